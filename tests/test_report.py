"""Building the report end to end through the CLI: outputs, escaping, bad inputs, summary."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import results_format
from reports import cli, plots
from reports.load import read_run, skipped, tidy
from reports.sections import headlines
from reports.summary import fmt_ratio
from tests.golden_runs import BAD, GPUBOX, LAPTOP, STOPBOX, WORKSTATION, derive, fleet_run
from tests.plot_stubs import draw_plots_small, stub_plots


def speedup(folder: Path, n: int, gpu: str = "GPU:0") -> str:
    """The GPU/CPU float32 matmul speedup at size n of a golden run, as the report writes it."""
    median = {b.name: b.stats.median for b in results_format.read(folder).benchmarks}
    cpu = median[f"test_matmul[tensorflow-CPU:0-n{n}-float32]"]
    return fmt_ratio(cpu / median[f"test_matmul[tensorflow-{gpu}-n{n}-float32]"])


def wins(folder: Path) -> str:
    """Where the GPU's float32 matmul wins in a golden run with one GPU, as the report words it (HTML-escaped)."""
    median = {b.name: b.stats.median for b in results_format.read(folder).benchmarks}
    sizes = sorted(
        int(name.split("-n")[1].split("-")[0])
        for name in median
        if name.startswith("test_matmul[tensorflow-CPU:0-n") and name.endswith("-float32]")
    )
    case = "test_matmul[tensorflow-{}:0-n{}-float32]"
    faster = [median[case.format("GPU", n)] < median[case.format("CPU", n)] for n in sizes]
    first = next(i for i in range(len(sizes)) if all(faster[i:]))
    return f"at every size measured (from n={sizes[0]})" if first == 0 else f"from n&gt;={sizes[first]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, int, str]:
    """A copy of the CPU+GPU run folder, its report built once by `python -m reports build FOLDER`."""
    folder = Path(shutil.copytree(GPUBOX, tmp_path_factory.mktemp("built") / GPUBOX.name))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["build", str(folder)])
    return folder, code, stdout.getvalue()


def test_build_one_run_writes_page_and_csv_into_the_run_folder(built):
    gpubox, code, stdout = built
    assert code == 0
    html = (gpubox / "report.html").read_text()
    frame = pd.read_csv(gpubox / "report.csv")
    assert len(frame) == len(results_format.read(gpubox).benchmarks)
    assert stdout.startswith(f"wrote {gpubox / 'report.html'} and report.csv")
    ratio = speedup(GPUBOX, 10000)
    assert float(ratio.rstrip("x")) > 25  # an H100 with TF32 is far past the book's notebook GPU (32x)
    assert f"GPU:0 is {ratio} faster than CPU:0 at n=10000 (float32 matmul); the GPU wins {wins(GPUBOX)}." in html
    assert f"n=10000: GPU:0 is {ratio} CPU:0 (book: 32x on a notebook GPU)" in html
    assert "profile full: n=16384 is above its CPU limit n=10000" in html  # skipped cases with reasons
    assert "<dt>device GPU:0 (tensorflow)</dt><dd>NVIDIA H100 80GB HBM3, 79.6 GiB</dd>" in html  # environment
    assert "<dt>NVIDIA driver</dt><dd>560.35.03</dd>" in html
    assert "<dt>state</dt><dd>complete</dd>" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == len(figures(html))  # every plot drawn


def test_page_is_self_contained(built):
    html = (built[0] / "report.html").read_text()
    assert "<script" not in html
    assert re.search(r'(src|href)="(?!data:|#)', html) is None
    assert "@import" not in html and "url(http" not in html
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        svg = base64.b64decode(uri).decode()
        assert "<svg" in svg and 'xlink:href="http' not in svg


def test_strings_from_results_files_are_escaped(tmp_path, fast_plots):
    evil = "<script>alert(1)</script>"

    def change(data):
        data["machine_info"]["devicebench"]["host"] = evil
        data["machine_info"]["devicebench"]["devices"][1]["model"] = "<b>bold</b>"
        data["devicebench"]["skipped"][0]["reason"] = "<img src=x onerror=alert(2)>"

    folder = derive(GPUBOX, tmp_path / "run", change)
    assert cli.main([str(folder)]) == 0
    html = (folder / "report.html").read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_several_runs_need_an_output_or_use_the_current_folder(tmp_path, monkeypatch, fast_plots):
    out = tmp_path / "out" / "all.html"
    assert cli.main([str(GPUBOX), str(LAPTOP), str(WORKSTATION), "-o", str(out)]) == 0
    assert out.is_file() and (tmp_path / "out" / "all.csv").is_file()
    html = out.read_text()
    ratio = speedup(WORKSTATION, 4096)
    assert f"workstation GPU:0 is {ratio} faster than workstation CPU:0 at n=4096" in html
    assert f"gpubox GPU:0 is {speedup(GPUBOX, 10000)} faster than gpubox CPU:0 at n=10000" in html
    # the workstation ran torch's multi-device cases too, so every device label says its backend
    assert "No GPU in run 20261120-090000-laptop: laptop tensorflow CPU:0 peaks at" in html
    monkeypatch.chdir(tmp_path)
    assert cli.main([str(fleet_run("node-a")), str(fleet_run("node-b"))]) == 0  # two small runs
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.csv").is_file()


def test_cpu_only_run_explains_missing_plots(tmp_path, monkeypatch):
    draw_plots_small(monkeypatch)  # each figure drawn, into a tiny PNG: the SVG writer is checked on gpubox's page
    out = tmp_path / "cpu.html"
    assert cli.main([str(LAPTOP), "-o", str(out)]) == 0
    html = out.read_text()
    assert "a CPU-only run has no speedup" in html
    assert "No nvml.csv in these runs" in html
    assert "No GPU matmul cases ran, so there is no GPU memory to plot." in html
    drawn = [key for key, image in figures(html).items() if image]
    # every plot of what a CPU ran: its matmul and MNIST, the sweeps, tf.data, copies, the multi-device cases on
    # its logical devices, its attention and its roofline; no speedup, GPU timeline or GPU memory
    assert drawn == [
        "matmul", "mnist", "batch-sweep", "tfdata", "transfer", "scaling", "allreduce", "section-attention", "roofline"
    ]  # fmt: skip
    assert html.count('<img src="data:image/svg+xml;base64,') == len(drawn)
    assert "profile smoke: n=2048 is above its CPU limit n=1024" in html
    assert "TensorFlow is a CPU-only build (no CUDA): GPU cases not generated" in html  # the run's note


@pytest.mark.parametrize("bad", sorted(p.name for p in BAD.iterdir()))
def test_a_bad_file_is_one_error_line_and_exit_2(bad, tmp_path, capsys, fast_plots):
    code = cli.main([str(GPUBOX), str(BAD / bad), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {BAD / bad}: ")
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_skip_bad_builds_from_the_rest_and_lists_what_it_skipped(tmp_path, capsys, fast_plots):
    out = tmp_path / "r.html"
    code = cli.main([str(BAD / "truncated.json"), str(GPUBOX), str(BAD / "foreign.json"), "--skip-bad", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert f"skipped: {BAD / 'truncated.json'}: truncated JSON" in err
    assert f"skipped: {BAD / 'foreign.json'}: not a pytest-benchmark JSON file" in err
    html = out.read_text()
    assert "Input files left out" in html and "foreign.json" in html


def test_skip_bad_with_nothing_readable_fails(tmp_path, capsys, fast_plots):
    code = cli.main([str(BAD / "corrupt.json"), "--skip-bad", "-o", str(tmp_path / "r.html")])
    assert code == 2
    assert "no readable results" in capsys.readouterr().err


def test_summary_prints_tables_speedup_book_and_skipped(capsys):
    assert cli.main(["summary", str(GPUBOX)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    large, small = speedup(GPUBOX, 10000), speedup(GPUBOX, 100)
    assert f"n=10000: GPU:0 is {large} CPU:0 (book: 32x on a notebook GPU)" in out
    assert f"n=100: GPU:0 is {small} CPU:0: no difference (book: no difference for small tensors)" in out
    gpu = next(b for b in results_format.read(GPUBOX).benchmarks if b.name.endswith("GPU:0-n10000-float32]"))
    assert "matmul (GFLOP/s)" in out and f"{gpu.extra_info.throughput:,.0f}" in out
    assert "GPU/CPU speedup, float32 matmul" in out and large in out
    assert "profile full: n=16384 is above its CPU limit n=10000" in out
    assert "torch is not installed" in out


def test_summary_of_a_bad_file_exits_2(capsys):
    assert cli.main(["summary", str(BAD / "foreign.json")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_help_lists_subcommands_and_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "build" in out and "summary" in out and "Exit codes" in out
    assert cli.main(["build", "--help"]) == 0
    assert "report.html" in capsys.readouterr().out


def test_default_command_and_missing_subcommands(monkeypatch):
    assert cli.with_default_command(["results/latest"], ["build", "summary"]) == ["build", "results/latest"]
    assert cli.with_default_command(["summary", "x"], ["build", "summary"]) == ["summary", "x"]
    assert cli.with_default_command(["-o", "a.html", "x"], ["build"]) == ["build", "-o", "a.html", "x"]
    assert cli.load_subcommand("no_such_thing") is None
    monkeypatch.setattr(cli, "SUBCOMMANDS", ("build", "no_such_thing"))
    assert cli.available_names() == ["build"]


def test_every_plot_has_an_image_or_a_reason(built):
    html = (built[0] / "report.html").read_text()
    assert list(figures(html)) == [
        "matmul", "speedup", "mnist", "batch-sweep", "tfdata", "transfer", "nvml", "memory", "scaling", "allreduce",
        "roofline", "per-watt",
    ]  # fmt: skip
    assert all(figures(html).values()) and 'class="why-not"' not in html
    empty = plots.all_plots(tidy([]), plots.read_nvml([]))
    assert all(p.image is None and p.why_not and p.why_not.endswith(".") for p in empty)


def test_known_peak_matches_model_names():
    assert plots.known_peak("NVIDIA H100 80GB HBM3") == 66900.0
    assert plots.known_peak("Intel Xeon") is None
    assert plots.known_peak(None) is None


def test_summary_says_when_a_run_did_not_finish(capsys):
    assert cli.main(["summary", str(STOPBOX)]) == 0
    out = capsys.readouterr().out
    assert "• note: incomplete (interrupted): stopped by SIGTERM" in out  # one run: no need to name it
    assert cli.main(["summary", str(STOPBOX), str(LAPTOP)]) == 0
    out = capsys.readouterr().out
    assert f"• note ({STOPBOX.name}): incomplete (interrupted): stopped by SIGTERM" in out


def test_the_tfdata_plot_has_no_empty_panel_when_only_the_verdict_case_ran():
    frame = tidy([read_run(fleet_run("node-a"))])  # its tf.data cases are the fed-step verdicts only
    assert set(frame.loc[frame["workload"] == "tfdata", "variant"]) == {"fed-step"}
    plot = plots.tfdata(frame, plots.palette_for(list(frame["device"])))
    assert plot.image is not None
    svg = base64.b64decode(plot.image.split(",", 1)[1]).decode()
    assert "training step: input-bound?" in svg and "elements/s per variant" not in svg
    full = plots.tfdata(tidy([read_run(GPUBOX)]), plots.palette_for(["CPU:0", "GPU:0"]))
    assert full.image is not None
    assert "elements/s per variant" in base64.b64decode(full.image.split(",", 1)[1]).decode()


def test_log_axis_labels_of_measured_sizes_do_not_overlap():
    sizes = [100, 128, 256, 512, 1024, 2048, 4096, 8192, 10000, 16384]
    assert plots.spaced_ticks(sizes) == [100, 256, 512, 1024, 2048, 4096, 8192, 16384]
    assert plots.spaced_ticks(sizes[:-1]) == [100, 256, 512, 1024, 2048, 4096, 10000]  # both ends stay
    assert plots.spaced_ticks([128, 512]) == [128, 512]


def test_a_view_that_copies_from_the_gpu_is_not_called_zero_copy():
    lines = summary_lines(GPUBOX)
    copies = next(line for line in lines if line.startswith("Copies on GPU:0"))
    assert "device to host through a view, pageable (at 512 MiB)" in copies and "zero-copy" not in copies
    hand_over = next(line for line in lines if line.startswith("Zero-copy hand-overs on CPU:0"))
    assert "device to host through a view 1.8 µs" in hand_over


def figures(html: str) -> dict[str, bool]:
    """The page's plots in order, each with whether it has an image (else it says why not)."""
    found = re.findall(r'<figure id="plot-([a-z-]+)"(.*?)</figure>', html, re.S)
    return {key: "<img " in body for key, body in found}


def summary_lines(folder: Path) -> list[str]:
    """The findings of one golden run."""
    run = read_run(folder)
    return headlines(tidy([run]), skipped([run]))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"t_s,case,gpu_index,mem_used_mib\n1,a,0,5\n1,2,3,4,5,6,7\n", "Expected 4 fields in line 3, saw 7"),
        (b"\x00\xff\xfe garbage", "codec can't decode"),
        (b"time,memory\n1,2\n", "no column t_s, case, gpu_index, mem_used_mib"),
    ],
    ids=["ragged", "binary", "foreign"],
)
def test_a_corrupt_nvml_csv_is_named_on_stderr_and_the_page_and_the_rest_is_kept(
    tmp_path, capsys, monkeypatch, content, why
):
    stub_plots(monkeypatch)  # the roofline and the rest are not drawn: only the timeline reads nvml.csv
    monkeypatch.setattr(plots, "all_plots", lambda frame, nvml: [plots.nvml_timeline(nvml, frame, {})])
    folder = Path(shutil.copytree(GPUBOX, tmp_path / GPUBOX.name))
    (folder / "nvml.csv").write_bytes(content)
    assert cli.main(["build", str(folder)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {folder / 'nvml.csv'} is corrupt (") and why in err[0]
    assert err[0].endswith("): its GPU timeline is left out")
    html = (folder / "report.html").read_text()
    assert "NVML was not available" not in html
    assert html.count(f"{folder / 'nvml.csv'} is corrupt") == 2  # the runs' notes and the timeline's why-not
    assert len(pd.read_csv(folder / "report.csv")) == len(results_format.read(GPUBOX).benchmarks)
