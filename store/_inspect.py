"""What the CLI's summaries read: a run's counts (``stats``), each member's run
(``backchain audit``) and recorded tools with their call counts (``backchain tools``).

Kept apart from `_store.py` as a mixin of `Store`; read-only, on the same connection.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._connection import first_row
from ._sql import STATUSES

if TYPE_CHECKING:
    import duckdb

    from schemas import VersionInfo


class InspectMixin:
    """Store methods behind run summaries, ``backchain audit`` and ``backchain tools``."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def _version_by_id(self, version_id: str) -> VersionInfo: ...

    def stats(self, run_id: str) -> dict[str, Any]:
        """Counts for a run's summary: calls, errors, candidates by status, top rejections."""
        con = self.con
        calls, errors = first_row(con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_error) FROM obs_rows WHERE run_id = ?",
            [run_id],
        )) or (0, 0)
        by_status = dict.fromkeys(STATUSES, 0)
        for status, n in con.execute(
            "SELECT status, count(*) FROM candidate_rows WHERE run_id = ? GROUP BY status", [run_id]
        ).fetchall():
            by_status[status] = int(n)
        reasons = con.execute(
            "SELECT reason, count(*) AS n FROM candidate_rows WHERE run_id = ? AND status = 'rejected' "
            "GROUP BY reason ORDER BY n DESC, reason LIMIT 5",
            [run_id],
        ).fetchall()
        return {
            "run_id": run_id,
            "calls": int(calls),
            "errors": int(errors),
            "candidates": by_status,
            "top_rejections": [(str(r), int(n)) for r, n in reasons],
        }

    # -- drift audit (backchain audit) -----------------------------------------------

    def member_runs(self, version_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Example id -> (run id, stored run config) of the run that made each member.

        ``backchain audit`` restarts each example's toolsets from this config. An example
        stored by several runs is credited to the run that sealed the version, else to a run
        of the same dataset, else to the latest; a member no run made is absent.
        """
        self._version_by_id(version_id)
        rows = self.con.execute(
            "SELECT m.example_id, c.run_id, r.config FROM member_rows AS m "
            "JOIN version_rows AS v ON v.version_id = m.version_id "
            "JOIN candidate_rows AS c ON c.example_id = m.example_id "
            "JOIN run_rows AS r ON r.run_id = c.run_id WHERE m.version_id = ? "
            "QUALIFY row_number() OVER (PARTITION BY m.example_id ORDER BY "
            "(c.run_id IS NOT DISTINCT FROM v.run_id) DESC, (c.dataset = v.dataset) DESC, "
            "r.started_at DESC, c.run_id) = 1",
            [version_id],
        ).fetchall()
        configs: dict[str, dict[str, Any]] = {}
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for example_id, run_id, config in rows:
            if run_id not in configs:
                configs[run_id] = dict(json.loads(config))
            out[example_id] = (run_id, configs[run_id])
        return out

    # -- tools (backchain tools) --------------------------------------------------------

    def tool_usage(self, toolset: str | None = None) -> list[dict[str, Any]]:
        """Each recorded tool with its classification, parameters and call counts.

        One row per (toolset, tool). A tool recorded with different classes over
        time (an override added later) shows the class stored by the latest run
        that introduced one. Counts span every run; a tool with observations but
        no tool row (never expected) still appears, with its class unknown.
        """
        rows = self.con.execute(
            """
            WITH t AS (
                SELECT tr.toolset, tr.name, tr.description, tr.side_effect, tr.side_effect_source,
                       coalesce(json_extract_string(tr.input_schema, '$.required[*]'), []::VARCHAR[])
                           AS required,
                       coalesce(json_keys(tr.input_schema, '$.properties'), []::VARCHAR[]) AS params
                FROM tool_rows AS tr LEFT JOIN run_rows AS r ON r.run_id = tr.first_run_id
                WHERE ?::VARCHAR IS NULL OR tr.toolset = ?
                QUALIFY row_number() OVER (PARTITION BY tr.toolset, tr.name
                                           ORDER BY r.started_at DESC NULLS LAST, tr.side_effect) = 1
            ), o AS (
                SELECT toolset, tool, count(*) AS calls, count(*) FILTER (WHERE is_error) AS errors,
                       median(latency_ms) AS median_ms, max(started_at) AS last_called
                FROM observations WHERE ?::VARCHAR IS NULL OR toolset = ?
                GROUP BY toolset, tool
            )
            SELECT coalesce(t.toolset, o.toolset), coalesce(t.name, o.tool), t.side_effect,
                   t.side_effect_source, t.required, t.params, t.description,
                   coalesce(o.calls, 0), coalesce(o.errors, 0), o.median_ms, o.last_called
            FROM t FULL JOIN o ON o.toolset = t.toolset AND o.tool = t.name
            ORDER BY 1, 2
            """,
            [toolset, toolset, toolset, toolset],
        ).fetchall()
        out = []
        for (ts, name, side_effect, source, required, params, description,
             calls, errors, median_ms, last_called) in rows:
            required = list(required or [])
            out.append({
                "toolset": ts, "tool": name, "side_effect": side_effect, "side_effect_source": source,
                "required": required, "optional": [p for p in params or [] if p not in required],
                "description": description, "calls": int(calls), "errors": int(errors),
                "median_ms": None if median_ms is None else round(float(median_ms), 3),
                "last_called": last_called,
            })
        return out
