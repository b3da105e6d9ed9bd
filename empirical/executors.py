"""Where the work units of a sweep run: in this process (default) or on a Dask cluster.

A sweep is cut into work units (blocks of gamma values, each trained batched on one
device).  An executor maps a picklable function over the units and yields
``(unit_index, result)`` as units finish.  The caller writes every finished point itself,
atomically, so a unit that is retried after a worker died (Dask reschedules it) or
delivered twice cannot lose or corrupt a point, and a killed *client* resumes with
``--resume``.

* :class:`InProcessExecutor`: runs the units one after another here.
* :class:`DaskExecutor`: ``dask.distributed`` (optional extra ``pip install -e .[cluster]``):
  a ``LocalCluster`` (``local:N``) or an existing scheduler (``tcp://HOST:PORT``), e.g. one
  started by dask-jobqueue on an HPC system or by the Dask Kubernetes operator.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Callable, Iterable, Iterator, Protocol
from l2phase.theory.checks import InputError, InputTypeError

__all__ = ["Executor", "InProcessExecutor", "DaskExecutor", "make_executor", "CLUSTER_INSTALL_HINT"]

CLUSTER_INSTALL_HINT = "pip install -e '.[cluster]'  (or: pip install 'dask[distributed]')"


class Executor(Protocol):
    """Maps ``fn`` over work units; yields (index, result) in completion order."""

    description: str
    dashboard_link: str | None

    def map_unordered(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Run every unit here, in order (the default)."""

    description = "in-process"
    dashboard_link = None

    def map_unordered(self, fn, units):
        for i, unit in enumerate(units):
            yield i, fn(unit)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DaskExecutor:
    """Run the units as Dask futures.

    Parameters
    ----------
    client : distributed.Client
    cluster : distributed.LocalCluster, optional
        Closed with the executor when this executor started it.
    retries : int
        Extra attempts for a unit whose function raised.  A unit whose *worker died*
        is rescheduled by the scheduler on its own (``distributed.scheduler.allowed-failures``).
    """

    def __init__(self, client, cluster=None, retries: int = 2):
        self.client = client
        self.cluster = cluster
        self.retries = int(retries)
        addr = getattr(client.scheduler, "address", None) or "?"
        self.description = f"dask ({'local cluster, ' if cluster is not None else ''}scheduler {addr})"
        try:
            self.dashboard_link = client.dashboard_link if client.dashboard_link else None
        except Exception:  # no bokeh: no dashboard
            self.dashboard_link = None

    def map_unordered(self, fn, units):
        from distributed import as_completed

        run = uuid.uuid4().hex[:8]
        futures = [
            self.client.submit(fn, unit, key=f"l2phase-{run}-{i}", retries=self.retries, pure=False)
            for i, unit in enumerate(units)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.release()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# one process each: more than this is a typo, not a machine
MAX_LOCAL_WORKERS = 256


def make_executor(scheduler: str | None, *, connect_timeout: float = 10.0, retries: int = 2) -> Executor:
    """Executor for a ``--scheduler`` value.

    Parameters
    ----------
    scheduler : str or None
        ``None``/``""``/``"in-process"``: run here.  ``"local:N"``: start a LocalCluster of N
        single-threaded worker processes.  ``"tcp://HOST:PORT"`` (or another Dask
        address): connect to a running scheduler.
    connect_timeout : float
        Seconds to wait for a remote scheduler before giving up (no hang).

    Raises
    ------
    ValueError
        Malformed value, dask not installed (the message says how to install it), or the
        scheduler cannot be reached within ``connect_timeout``.
    """
    if scheduler is None or scheduler in ("", "in-process", "none"):
        return InProcessExecutor()
    if not isinstance(scheduler, str):
        raise InputTypeError(f"scheduler must be a string, got {scheduler!r}")
    try:
        import distributed
    except ImportError:
        raise InputError(f"--scheduler needs dask.distributed, which is not installed: {CLUSTER_INSTALL_HINT}") from None
    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"--scheduler local:N needs a positive number of workers, got {scheduler!r}")
        if n > MAX_LOCAL_WORKERS:
            raise InputError(f"--scheduler local:N starts N worker processes on this machine; N must be <= "
                             f"{MAX_LOCAL_WORKERS}, got {scheduler!r}")
        try:
            import bokeh  # noqa: F401  (the dashboard needs it)

            dashboard = ":0"
        except ImportError:
            dashboard = None
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=dashboard,
            silence_logs=logging.ERROR,
        )
        return DaskExecutor(distributed.Client(cluster), cluster=cluster, retries=retries)
    if "://" not in scheduler:
        raise InputError(f"--scheduler must be 'local:N' or a Dask address like tcp://HOST:PORT, got {scheduler!r}")
    try:
        client = distributed.Client(scheduler, timeout=connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"could not reach the Dask scheduler at {scheduler} within {connect_timeout:g} s ({exc.__class__.__name__})"
        ) from None
    return DaskExecutor(client, retries=retries)
