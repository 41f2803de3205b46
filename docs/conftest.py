"""pytest over docs/: the Markdown pages' doctests; not the Sphinx set-up."""

# docs/api/conf.py is Sphinx's configuration, not a module to import and
# doctest; docs/api/_build is where a local Sphinx build may write.
collect_ignore = ["api/conf.py"]
collect_ignore_glob = ["api/_build/*"]
