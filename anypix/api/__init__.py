"""The tool API for other agents (MCP over stdio and local HTTP)."""
