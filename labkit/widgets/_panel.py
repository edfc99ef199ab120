"""What the chapter panels share: a container that says what it is before it runs, and quick PNGs.

``ipywidgets`` and ``matplotlib`` are imported inside the functions (the panel class is built on
first use), so importing :mod:`labkit.widgets` stays as light as ``import labkit``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

#: The plain-text form of every panel. JupyterLab shows it where it cannot draw the widget: in
#: a notebook opened fresh, before the cell is run (the widget's state lives in the kernel).
PANEL_TEXT = "Interactive panel ({name}): run this cell to display it."
#: CSS class on every panel's outer box (the browser test finds panels by it).
PANEL_CLASS = "labkit-panel"


@functools.cache
def _panel_class() -> type:
    import ipywidgets

    class Panel(ipywidgets.VBox):
        """A VBox whose text/plain says "run this cell" instead of ``VBox(children=(...))``."""

        def __init__(self, children: Sequence[Any], *, name: str, **kwargs: Any) -> None:
            super().__init__(children, **kwargs)
            self.panel_name = name

        def __repr__(self) -> str:
            return PANEL_TEXT.format(name=self.panel_name)

    return Panel


def panel(children: Sequence[Any], name: str, css_class: str, **kwargs: Any) -> ipywidgets.VBox:
    """The outer box of a chapter panel: a VBox with :data:`PANEL_TEXT` as its plain text.

    Parameters
    ----------
    children:
        The panel's widgets, top to bottom.
    name:
        What the panel is, as the plain text names it (``"timeline stepper"``).
    css_class:
        A class of its own next to :data:`PANEL_CLASS` (``"labkit-timeline-stepper"``).
    """
    box = _panel_class()(list(children), name=name, **kwargs)
    box.add_class(PANEL_CLASS)
    box.add_class(css_class)
    return box


def png(canvas: Any) -> bytes:
    """The canvas's pixels, already drawn, as PNG bytes.

    Straight from the Agg buffer with zlib's fastest level: ``Figure.savefig`` would draw the
    figure again and compress harder, for the same pixels.
    """
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    buf = io.BytesIO()
    Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
        buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Blitter:
    """Renders a stream of figures that share a static part, drawing that part only once.

    A panel redraws its figure on every change, but most of it (axis labels, tick labels, the
    colour bar, the names beside the cells) stays the same while one control moves, and text is
    what Agg spends its time on. :meth:`render` draws everything but ``changing`` once per
    ``key``, keeps those pixels, and from then on only pastes them and draws ``changing`` on
    top: the same pixels as a full draw, as long as ``changing`` holds every artist that differs
    between figures of one key and every artist drawn over one of those (the caller's contract;
    the tests compare both renderings pixel by pixel).
    """

    #: Backgrounds kept at once (a pod that fits and one that fits nowhere differ in height).
    KEEP = 4

    def __init__(self) -> None:
        self._backgrounds: dict[Hashable, Any] = {}

    def render(self, fig: Figure, changing: Iterable[Artist], key: Hashable) -> bytes:
        """PNG bytes of ``fig``, drawn in full the first time for ``key``, then only ``changing``.

        ``key`` names the static part (the panel passes its cluster's generation); the figure's
        size and resolution are added to it.

        ``changing`` must be given in drawing order (``zorder``, then the order they were added).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        changing = list(changing)
        for artist in changing:
            artist.set_animated(True)  # left out of canvas.draw(), drawn by hand below
        import numpy as np

        canvas = FigureCanvasAgg(fig)
        key = (key, tuple(fig.get_size_inches()), fig.dpi)
        renderer = canvas.get_renderer()
        # The whole buffer, not copy_from_bbox: its rounding can leave the top row out.
        if key not in self._backgrounds:
            canvas.draw()
            if len(self._backgrounds) >= self.KEEP:
                self._backgrounds.clear()
            self._backgrounds[key] = np.array(renderer.buffer_rgba())
        else:
            np.asarray(renderer.buffer_rgba())[...] = self._backgrounds[key]
        for artist in changing:
            artist.draw(renderer)
        return png(canvas)


def clamp(value: Any, low: int, high: int) -> int:
    """A widget's value as an int within ``[low, high]`` (odd values give ``low``): widgets never die."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low
    return min(max(number, low), high)
