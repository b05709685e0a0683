"""Build the compiled core: every ``engine/core/*.pyx`` becomes an extension module.

The pure-Python reference modules beside them (``_*_py.py``) are ordinary package files; the selector in
``engine/core/__init__.py`` falls back to them when an extension is not built.
"""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        f"engine.core.{pyx.stem}",
        [str(pyx)],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted(Path("engine/core").glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True, "initializedcheck": False},
    )
)
