"""The targets, and the table printed at the end of a run."""

from __future__ import annotations

from typing import Any

VARIANTS = ("ha_action", "aiohttp", "openai_sdk")


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value and PASS, MISS or n/a (the section failed)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: str, ok: bool | None) -> None:
        status = "n/a" if value is None or ok is None else ("PASS" if ok else "MISS")
        checks.append({"target": name, "value": value, "limit": limit, "status": status})

    overhead = _get(results, "secrets", "1", "overhead_us", "ha_vs_aiohttp_paired_median")
    check(
        "action adds < 0.5 ms median over bare aiohttp (sequential, µs)",
        overhead,
        "< 500",
        None if overhead is None else overhead < 500,
    )
    secrets = results.get("secrets") or {}
    levels = [k for k in ("1", "10", "100") if k in secrets]
    ratios = [
        secrets[k]["openai_sdk"]["median_ms"] / secrets[k]["ha_action"]["median_ms"] for k in levels
    ]
    check(
        "action faster than the openai SDK at 1, 10, 100 concurrent (min SDK/action median)",
        min(ratios) if ratios else None,
        "> 1",
        (min(ratios) > 1) if ratios else None,
    )
    added = _get(results, "relay", "added_ms_paired_median")
    check(
        "relay adds < 5 ms to call set-up (ms)",
        added,
        "< 5",
        None if added is None else added < 5,
    )
    turnaround = _get(results, "tools", "turnaround", "median_ms")
    check(
        "tool turnaround < 20 ms (median, ms)",
        turnaround,
        "< 20",
        None if turnaround is None else turnaround < 20,
    )
    memory = results.get("memory")
    total = (
        max(memory["rss_total_mib"], memory["traced_total_mib"]) * 100 / memory["sessions"]
        if memory
        else None
    )
    check(
        "100 sessions < 20 MB (MiB per 100, larger of RSS and traced)",
        total,
        "< 20",
        None if total is None else total < 20,
    )
    return checks


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def _ms(x: dict[str, Any] | None, key: str = "median_ms") -> str:
    return _f(None if not x else x.get(key))


def _spread(x: dict[str, Any] | None) -> str:
    """A median with its p10..p90 range (paired differences)."""
    if not x:
        return "-"
    return f"{_f(x['median_ms'])} [{_f(x['p10_ms'])}..{_f(x['p90_ms'])}]"


def _phone(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return []
    sig = s["signature"]
    rows = [
        ["HA: the profile answers", _ms(s["ha"]), _ms(s["ha"], "p90_ms"), _ms(s["ha"], "p99_ms")],
        [
            "bare aiohttp receiver",
            _ms(s["bare"]),
            _ms(s["bare"], "p90_ms"),
            _ms(s["bare"], "p99_ms"),
        ],
        [
            "added by HA + the integration (paired)",
            _f(s["added_ms_paired_median"]),
            _f(s["added_ms_paired_p90"]),
            "",
        ],
        ["  the same in CPU time of this thread", _f(s["added_cpu_ms_paired_median"]), "", ""],
    ]
    parts = [["HA: " + k, _ms(v), _ms(v, "p90_ms")] for k, v in s["ha_parts"].items()]
    parts += [["bare: " + k, _ms(v), _ms(v, "p90_ms")] for k, v in s["bare_parts"].items()]
    return [
        "",
        f"7. Phone call: signed webhook -> accept at the simulator ({s['pairs']} pairs, ms)",
        *_table(["path", "median", "p90", "p99"], rows),
        *_table(["part", "median", "p90"], parts),
        f"  signature check per delivery: ours {_f(sig['ours']['median_us'])} µs "
        f"[{_f(sig['ours']['p10_us'])}..{_f(sig['ours']['p90_us'])}], openai SDK "
        f"{_f(sig['openai_sdk']['median_us'])} µs [{_f(sig['openai_sdk']['p10_us'])}.."
        f"{_f(sig['openai_sdk']['p90_us'])}] (median [p10..p90] of {sig['blocks']} blocks of "
        f"{sig['block_size']}); SDK/ours {_f(sig['sdk_over_ours'])}",
    ]


def _pipeline(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return []
    stt = s["stt"]
    bare = s["stt_without_simulator"]
    vs = s["stt_vs_bare_stream"]
    labels = {
        "ha_pipeline": "HA pipeline (transcript at HA)",
        "stt_entity": "our STT entity alone",
        "bare_pipeline": "bare client, streamed",
        "bare_upload": "bare client, upload after the end",
    }
    rows = [
        [
            label,
            _ms(stt[n]),
            _ms(stt[n], "p90_ms"),
            _ms(bare[n]),
            _spread(vs.get(n)) if n != "bare_pipeline" else "",
        ]
        for n, label in labels.items()
    ]
    rows.append(
        [
            "  HA pipeline: stt-end at the client",
            _ms(s["stt_end_at_the_client"]),
            _ms(s["stt_end_at_the_client"], "p90_ms"),
            "",
            "",
        ]
    )
    stage_labels = {
        "transcript_to_first_token": "transcript -> agent's first token",
        "transcript_to_first_audio": "transcript -> first audio byte",
        "transcript_to_first_audio_without_synthesis": "  less the simulator's synthesis",
        "end_to_first_audio": "end of audio -> first audio byte",
        "end_to_first_audio_without_synthesis": "  less the simulator's synthesis",
    }
    stages = [
        [
            label,
            f"{_ms(s['stages'][k]['ha_pipeline'])} ({_ms(s['stages'][k]['ha_pipeline'], 'p90_ms')})",
            f"{_ms(s['stages'][k]['bare_pipeline'])} "
            f"({_ms(s['stages'][k]['bare_pipeline'], 'p90_ms')})",
            _spread(s["stages_added_by_ha"][k]),
        ]
        for k, label in stage_labels.items()
    ]
    parts = [[k, _ms(v), _ms(v, "p90_ms"), v["whose"]] for k, v in s["ha_parts"].items()]
    cpu = s["cpu_ms"]
    after = s["bytes_after_the_end"]
    return [
        "",
        f"8. Assist pipeline: {s['audio_seconds']:.1f} s of speech streamed in 20 ms frames, "
        f"{s['rounds']} rounds, simulator without its modelled latencies (ms)",
        *_table(
            [
                "end of audio -> transcript",
                "median",
                "p90",
                "less the simulator",
                "vs bare streamed (paired) [p10..p90]",
            ],
            rows,
        ),
        f"  the simulator hearing the audio (commit -> transcript): {_ms(s['simulator_stt'])} "
        f"(p90 {_ms(s['simulator_stt'], 'p90_ms')}); closing the transcription socket (bare): "
        f"{_ms(s['transcription_socket_close_ms'])}",
        f"  audio sent after the end: streamed {after['streamed']} bytes of 24 kHz PCM (what "
        f"was short of a {after['append_bytes']}-byte append, plus the last frame) and the "
        f"commit; upload after the end: all {after['upload']} bytes, on a new connection",
        *_table(
            ["stage", "HA median (p90)", "bare median (p90)", "added by HA (paired) [p10..p90]"],
            stages,
        ),
        *_table(["inside HA's turn", "median", "p90", "whose"], parts),
        f"  CPU per turn (this thread, less an idle turn's {_f(s['cpu_idle_turn_ms'], 1)}): HA "
        f"pipeline {_f(cpu['ha_pipeline'], 1)}, bare {_f(cpu['bare_pipeline'], 1)}, added by "
        f"HA {_spread(s['cpu_added_by_ha_ms'])}; speech-to-text alone: our entity "
        f"{_f(cpu['stt_entity'], 1)}, bare streamed {_f(cpu['bare_stream_stt'], 1)}, added "
        f"{_spread(s['cpu_added_by_our_stt_ms'])}; upload after the end "
        f"{_f(cpu['bare_upload'], 1)}",
        f"  our 16->24 kHz upsampler: {_f(s['resampler_ms_per_audio_second'])} ms per second "
        f"of audio; the answer: {s['answer']!r}, {s['speech_bytes_median']:.0f} bytes of mp3",
    ]


def _speech(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return []
    out = [
        "",
        f"9. Text to speech: to the first audio byte, {s['rounds']} rounds per text, simulator "
        "without its modelled latencies (ms; client = total less the simulator's synthesis)",
    ]
    for key in ("short", "long"):
        table = s[key]
        rows = []
        for name, x in table.items():
            if name == "client_vs_http_bare_pcm":
                continue
            rows.append(
                [
                    name,
                    _ms(x["total"]),
                    _ms(x["simulator"]),
                    _ms(x["client"]),
                    _ms(x["client"], "p90_ms"),
                    _spread(table["client_vs_http_bare_pcm"].get(name))
                    if name != "http_bare_pcm"
                    else "",
                ]
            )
        out += [f"  {key}: {s['texts'][key]!r}"]
        out += _table(
            [
                "variant",
                "total",
                "simulator",
                "client",
                "client p90",
                "client vs http_bare_pcm (paired) [p10..p90]",
            ],
            rows,
        )
    return out


def render(doc: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    r = doc["results"]
    m = doc["machine"]
    out = [
        "",
        f"OpenAI API for Home Assistant: benchmarks ({doc['scale']}, {doc['when']})",
        f"{m['cpu']} x{m['cpus']}, {m['platform']}, Python {m['python']}, HA {m['home_assistant']}",
        f"load average {m['loadavg_start']} at start, {m['loadavg_end']} at end; {m['seconds']} s; "
        f"CPU cores busy: this run {m['this_run_cores']}, everything else {m['other_load_cores']}",
    ]
    if s := r.get("secrets"):
        out += [
            "",
            "1. Client secrets, simulator in its own process (ms per call; ratio = median / bare "
            "aiohttp's median; CPU = the event loop thread's CPU time per call, µs)",
        ]
        rows = []
        notes = []
        for level in ("1", "10", "100"):
            if level not in s:
                continue
            base = s[level]["aiohttp"]["median_ms"]
            for v in (*VARIANTS, "api_client"):
                if v not in s[level]:
                    continue
                x = s[level][v]
                rows.append(
                    [
                        level,
                        v,
                        _f(x["median_ms"], 3),
                        _f(x["p99_ms"], 3),
                        _f(x["calls_per_s"], 0),
                        _f(x["median_ms"] / base, 2),
                        _f(x.get("cpu_us_per_call"), 0),
                    ]
                )
            o = s[level]["overhead_us"]
            if "ha_vs_aiohttp_paired_median" in o:
                notes.append(
                    f"  overhead, sequential: {_f(o['ha_vs_aiohttp_paired_median'], 0)} µs "
                    "(median of paired differences), of which "
                    f"{_f(o['api_client_vs_aiohttp_paired_median'], 0)} µs in the integration's "
                    f"API client and {_f(o['ha_vs_api_client_paired_median'], 0)} µs in the "
                    "action (HA's service call, validation, event); in loop CPU "
                    f"{_f(o.get('ha_vs_aiohttp_cpu_paired_median'), 0)} µs"
                )
            else:
                notes.append(
                    f"  overhead at {level} concurrent: "
                    f"{_f(o['ha_vs_aiohttp_median_diff'], 0)} µs median latency, "
                    f"{_f(o['ha_vs_aiohttp_per_call_throughput'], 0)} µs of loop time per call "
                    f"(from calls/s), {_f(o.get('ha_vs_aiohttp_cpu_per_call'), 0)} µs of loop "
                    "CPU per call"
                )
        out += _table(["conc.", "variant", "median", "p99", "calls/s", "ratio", "CPU"], rows)
        out += notes
        if "payload_validation_us" in s:
            out.append(
                f"  pieces: HA's service layer alone (a no-op action registered like ours) "
                f"{_f(s['ha_service_layer_us'], 0)} µs, validating the payload "
                f"{_f(s['payload_validation_us'], 0)} µs"
            )
    if s := r.get("relay"):
        out += [
            "",
            f"2. Call set-up ({s['pairs']} pairs, offer -> answer, ms)",
            *_table(
                ["path", "median", "p99"],
                [
                    ["HA websocket relay", _f(s["relay"]["median_ms"]), _f(s["relay"]["p99_ms"])],
                    ["direct POST", _f(s["direct"]["median_ms"]), _f(s["direct"]["p99_ms"])],
                    ["added by the relay (paired)", _f(s["added_ms_paired_median"]), ""],
                    [
                        "  the same in CPU time of this process",
                        _f(s["added_cpu_ms_paired_median"]),
                        "",
                    ],
                    ["  of which building the session", _f(s["session_build_median_ms"]), ""],
                ],
            ),
        ]
    if s := r.get("tools"):
        out += [
            "",
            f"3. Sideband tool turnaround ({s['turns']} turns, ms)",
            *_table(
                ["span", "median", "p99"],
                [
                    [
                        "arguments.done -> response.create",
                        _f(s["turnaround"]["median_ms"]),
                        _f(s["turnaround"]["p99_ms"]),
                    ],
                    [
                        "arguments.done -> function_call_output",
                        _f(s["to_function_output"]["median_ms"]),
                        _f(s["to_function_output"]["p99_ms"]),
                    ],
                    [
                        "  of which the tool (Assist turns the light on)",
                        _f(s["tool_execution"]["median_ms"]),
                        _f(s["tool_execution"]["p99_ms"]),
                    ],
                ],
            ),
        ]
    rows = []
    if s := r.get("imports"):
        rows += [
            ["import, HA core imported (ms)", _f(s["with_ha_core_ms"], 1)],
            ["import, dependencies imported (ms)", _f(s["with_dependencies_ms"], 1)],
            ["import, own modules' self time (ms)", _f(s["own_modules_self_ms"], 1)],
        ]
    if s := r.get("setup"):
        rows += [
            ["setup of the dependencies (ms)", _f(s["dependencies_ms"], 1)],
            ["first setup of integration + entry (ms)", _f(s["first_setup_ms"], 1)],
            ["entry setup on reload, median (ms)", _f(s["reload_setup_median_ms"], 1)],
            ["  for reference: GET /models (ms)", _f(s["get_models_median_ms"], 2)],
        ]
    if s := r.get("memory"):
        n = s["sessions"]
        rows += [
            [f"{n} live sessions, RSS (MiB)", _f(s["rss_total_mib"])],
            [f"{n} live sessions, traced (MiB)", _f(s["traced_total_mib"])],
            [
                "per session: RSS / traced (KiB)",
                f"{_f(s['rss_per_session_kib'], 1)} / {_f(s['traced_per_session_kib'], 1)}",
            ],
            [
                "per session, made under the integration / simulator (KiB)",
                f"{_f(s['traced_integration_per_session_kib'], 1)} / "
                f"{_f(s['traced_simulator_per_session_kib'], 1)}",
            ],
            [
                "left after hanging up, all / made under the integration (KiB)",
                f"{_f(s['traced_after_hangup_kib'], 1)} / "
                f"{_f(s['traced_after_hangup_integration_kib'], 1)}",
            ],
        ]
    if rows:
        out += ["", "4. Footprint", *_table(["measure", "value"], rows)]
    if s := r.get("load"):
        b, a = s["resources_before"], s["resources_after"]
        ref = s["reference_bare_aiohttp"]
        out += [
            "",
            f"5. Load: {s['calls']} client secrets, {s['concurrency']} concurrent, "
            f"faults {s['faults']}, simulator in its own process",
            *_table(
                ["measure", "value"],
                [
                    ["outcomes", ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items()))],
                    [
                        "faults injected",
                        ", ".join(f"{k} {v}" for k, v in sorted(s["injected"].items())),
                    ],
                    ["anything else", str(s["unexpected"])],
                    ["calls/s", _f(s["calls_per_s"], 0)],
                    [
                        "latency median / p99 (ms)",
                        f"{_f(s['latency']['median_ms'])} / {_f(s['latency']['p99_ms'])}",
                    ],
                    [
                        "event-loop lag p99 / max (ms)",
                        f"{_f(s['loop_lag_ms']['p99'])} / {_f(s['loop_lag_ms']['max'])}",
                    ],
                    [
                        "  of it, the loop thread working p99 / max (ms)",
                        f"{_f(s['loop_lag_own_cpu_ms']['p99'])} / "
                        f"{_f(s['loop_lag_own_cpu_ms']['max'])}",
                    ],
                    [
                        "websocket ping p99 / max (ms)",
                        f"{_f(s['ws_ping_ms']['p99'])} / {_f(s['ws_ping_ms']['max'])}",
                    ],
                    [
                        "garbage collections / longest (ms) / full ones",
                        f"{s['gc']['collections']} / {_f(s['gc']['max_ms'])} / "
                        f"{s['gc']['full_collections']}",
                    ],
                    ["same load by bare aiohttp: calls/s", _f(ref["calls_per_s"], 0)],
                    [
                        "  its event-loop lag p99 / max (ms)",
                        f"{_f(ref['loop_lag_ms']['p99'])} / {_f(ref['loop_lag_ms']['max'])}",
                    ],
                    [
                        "  of it, the loop thread working p99 / max (ms)",
                        f"{_f(ref['loop_lag_own_cpu_ms']['p99'])} / "
                        f"{_f(ref['loop_lag_own_cpu_ms']['max'])}",
                    ],
                    [
                        "  its websocket ping p99 / max (ms)",
                        f"{_f(ref['ws_ping_ms']['p99'])} / {_f(ref['ws_ping_ms']['max'])}",
                    ],
                    [
                        "  its garbage collections / longest (ms) / full ones",
                        f"{ref['gc']['collections']} / {_f(ref['gc']['max_ms'])} / "
                        f"{ref['gc']['full_collections']}",
                    ],
                    ["tasks / fds / sockets before", f"{b['tasks']} / {b['fds']} / {b['sockets']}"],
                    ["tasks / fds / sockets after", f"{a['tasks']} / {a['fds']} / {a['sockets']}"],
                ],
            ),
        ]
    if s := r.get("soak"):
        inv = s["invariants"]
        created = s["calls_created"]
        by_sim = s["ended_at_simulator"]

        def kinds(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        out += [
            "",
            f"6. Soak: {s['steps']} random steps (seed {s['seed']}, up to {s['max_in_flight']} at "
            f"once), {s['seconds']} s",
            *_table(
                ["measure", "value"],
                [
                    ["steps", kinds(s["steps_by_kind"])],
                    ["  started while the entry was not loaded", str(s["steps_while_not_loaded"])],
                    [
                        "calls created at the simulator",
                        f"{created['total']} ({created['relay']} relayed, "
                        f"{created['ephemeral']} ephemeral; "
                        f"{created['with_media_connected']} with media up)",
                    ],
                    ["  most live at once", str(s["most_calls_live"])],
                    ["ended at the simulator by", kinds(by_sim)],
                    ["ended by HA, why", kinds(s["ended_by_ha"])],
                    ["refused by the profiles' limits", str(s["refused_by_limits"])],
                    ["faults injected", kinds(s["faults_injected"])],
                    ["websocket connections opened", str(s["websocket_connections"])],
                    ["checks of the rule", str(s["checks"])],
                    *([f"  {rule}", str(n)] for rule, n in inv["by_rule"].items()),
                    ["tasks left after the soak", str(inv["lingering_tasks"])],
                    [
                        "  aiortc's own left by peers closed mid-handshake (cancelled)",
                        str(inv.get("webrtc_tasks_cancelled", 0)),
                    ],
                ],
            ),
        ]
    out += _phone(r.get("phone"))
    out += _pipeline(r.get("pipeline"))
    out += _speech(r.get("speech"))
    out += ["", "Targets"]
    out += _table(
        ["status", "target", "measured"],
        [[t["status"], t["target"], _f(t["value"])] for t in doc["targets"]],
    )
    return "\n".join(out)
