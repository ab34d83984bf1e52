"""Seeing inside: pictures the library draws of itself.

* static figures for the book (matplotlib): :func:`show_view`, :func:`show_graph`,
  :func:`plot_training` (:mod:`tinytorch.viz.figures`);
* the interactive explorer of graphs, views and gradients: :func:`explore` returns an
  :class:`Explorer` (:mod:`tinytorch.viz.explorer`); ``python -m tinytorch.viz run SCRIPT.py``
  explores what a script built.
"""

from .explorer import Explorer, collecting, explore, keep_graphs
from .figures import plot_training, show_graph, show_view

__all__ = ["show_view", "show_graph", "plot_training", "explore", "Explorer", "keep_graphs", "collecting"]
