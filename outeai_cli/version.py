"""The package's version, in a module of its own: any module may read it without importing the
package's public names (`outeai_cli/__init__.py` names them all)."""

__version__ = "0.1.0"
