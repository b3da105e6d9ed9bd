"""Sphinx extension: formulas rendered from sympy at build time, never retyped.

Directives (MyST: a fenced block ```` ```{l2phase-closed-forms} 2 ``` ````):

``l2phase-closed-forms DEPTH``
    :meth:`l2phase.theory.SymbolicCriticalPoint.latex` of
    :func:`l2phase.theory.critical_point_symbolic` (``DEPTH`` an integer, or ``D`` for the
    symbolic depth).
``l2phase-reduced-loss DEPTH``
    the reduced loss L(b) of :func:`l2phase.theory.reduced_loss_expr`.
``l2phase-chain-curvature DEPTH LANDSCAPE BRANCH``
    the exact Ricci scalar R of :func:`l2phase.theory.scalar_chain_curvature`, with the L2
    strength as a function of its variable when the minimiser is only parametric.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _depth(arg: str):
    return None if arg.strip() == "D" else int(arg)


class _Formula(SphinxDirective):
    has_content = False
    optional_arguments = 3
    required_arguments = 0

    def latex(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self):
        text = self.latex()
        node = nodes.math_block(text, text, nowrap=False, number=None)
        node["docname"] = self.env.docname
        node["label"] = None
        return [node]


class ClosedForms(_Formula):
    required_arguments = 1
    optional_arguments = 0

    def latex(self) -> str:
        from l2phase.theory import critical_point_symbolic

        return critical_point_symbolic(_depth(self.arguments[0])).latex()


class ReducedLoss(_Formula):
    required_arguments = 1
    optional_arguments = 0

    def latex(self) -> str:
        import sympy as sp

        from l2phase.theory import reduced_loss_expr

        return "L(b) = " + sp.latex(reduced_loss_expr(_depth(self.arguments[0])))


class ChainCurvature(_Formula):
    required_arguments = 3
    optional_arguments = 0

    def latex(self) -> str:
        import sympy as sp

        from l2phase.theory import scalar_chain_curvature

        depth, landscape, branch = self.arguments
        toy = scalar_chain_curvature(int(depth), landscape, branch)
        sub = "L" if landscape == "loss" else "E"
        text = rf"R_{sub} = {sp.latex(sp.factor(toy.R))}"
        if toy.variable != toy.gamma:
            text += rf", \qquad \gamma = {sp.latex(toy.gamma)}"
        return text


def setup(app):
    app.add_directive("l2phase-closed-forms", ClosedForms)
    app.add_directive("l2phase-reduced-loss", ReducedLoss)
    app.add_directive("l2phase-chain-curvature", ChainCurvature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
