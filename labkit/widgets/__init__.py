"""Interactive panels, one per chapter, each a thin layer over a plain, tested ``labkit`` function.

``ipywidgets`` and ``matplotlib`` are imported inside the functions, so importing this package
stays as light as ``import labkit``.

================================  ================================================
``timeline_stepper``              step through a pod's control-plane timeline (chapter 00)
``step_html``                     the HTML the stepper shows for one step
================================  ================================================
"""

from __future__ import annotations

from labkit.widgets.timeline import step_html, timeline_stepper

__all__ = ["timeline_stepper", "step_html"]
