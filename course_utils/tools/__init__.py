"""Maintainer tooling, not used inside notebooks.

* :mod:`course_utils.tools.mirror`: build the checksummed dataset mirror (``make data``);
* :mod:`course_utils.tools.labgen`: generate ``labs/`` from ``solutions/`` (``make labs``);
* :mod:`course_utils.tools.runner`: execute notebooks, publish solutions, seed benchmark (``make run``);
* :mod:`course_utils.tools.results`: the results pages ``build/results.md`` and ``spread.md``.
"""
