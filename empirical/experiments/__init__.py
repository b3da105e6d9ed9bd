"""Experiments built on the machinery of :mod:`l2phase.empirical`.

Each module is one experiment that owns its checks: the deep-linear validation against the
exact theory (``validation``), hysteresis loops (``hysteresis``), accuracy regimes of
classifiers (``accuracy_regimes``), linear/MLP VAE posterior collapse (``vae``) and the
two-layer ReLU initialisation phase diagram (``init_diagram``, ``init_plots``, ``init_report``),
noise-driven escape over exact barriers (``escape``, ``grokking``).
``sweep_report`` writes the report of a configured classifier or VAE sweep (``l2phase sweep``).
Their public names are re-exported by :mod:`l2phase.empirical`.
"""
