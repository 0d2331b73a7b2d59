"""`python -m generators.builtin [--http PORT]`: serve the built-in read-only toolset over MCP."""

from generators.builtin._server import main

if __name__ == "__main__":
    main()
