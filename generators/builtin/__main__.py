"""`python -m generators.builtin`: serve the built-in read-only toolset over MCP stdio."""

from generators.builtin._server import main

if __name__ == "__main__":
    main()
