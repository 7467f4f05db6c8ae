"""The SDK's version, kept equal to the server's (CMakeLists.txt) and pyproject.toml."""
__version__ = "0.1.0"
