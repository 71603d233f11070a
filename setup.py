"""The package list, found rather than listed so a new subpackage of tracelib is never left
out of a release. Everything else about the distribution is in pyproject.toml, whose
``packages.find`` table cannot do this: ``service/``, ``cli/`` and ``demonet/`` install under
other names (``tool.setuptools.package-dir``)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["tracelib", "tracelib.*"]),
                "tracelib_service", *(f"tracelib_service.{p}" for p in find_packages("service")),
                "tracelib_cli", "tracelib_demo"])
