"""The built-in read-only toolset, served as a real MCP server process."""
