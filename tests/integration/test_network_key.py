"""A generated sample whose configuration a user extends with an archive read over the network keeps the sample's
`allow_development_key = true`; its patients are now real, so `sansfilm run` and `sansfilm rebuild` refuse to start
without the programme's key: one line naming the source and the variable, before anything is written, whatever the
kind of network source."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from analytics.pseudonym import DEVELOPMENT_KEY
from tests.commands import SANSFILM, generated_corpus

NETWORK_SOURCES = {  # nothing listens on port 9 (discard) here: a run that gets past the key fails on the source
    "orthanc": 'url = "http://127.0.0.1:9"\nusername_env = "U"\npassword_env = "P"\nretries = 0\n',
    "dicomweb": 'url = "http://127.0.0.1:9/dicom-web"\nretries = 0\n',
    "dimse": 'host = "127.0.0.1"\nport = 9\ncalled_ae = "PACS"\ncalling_ae = "SANSFILM"\ntimeout = 2\n',
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A corpus no other test uses: its own seed, start month and size."""
    folder = tmp_path_factory.mktemp("network-key") / "corpus"
    generated_corpus(folder, seed=83, months=1, establishments=2, start="2013-09")
    return folder


def with_network_source(corpus, tmp_path, kind: str):
    """A copy of the corpus, its configuration given a `kind` source named 'pacs' (the user's edit)."""
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    config = copy / "sansfilm.toml"
    source = f'\n[[sources]]\nname = "pacs"\nkind = "{kind}"\n{NETWORK_SOURCES[kind]}'
    config.write_text(config.read_text(encoding="utf-8") + source, encoding="utf-8")
    return config


def sansfilm_with_key(config, command: str, key: str | None) -> subprocess.CompletedProcess:
    # Dagster's home in the corpus (.dagster), where a refused run must not have made it
    unset = ("SANSFILM_PSEUDO_KEY", "DAGSTER_HOME")
    env = {k: v for k, v in os.environ.items() if k not in unset} | {"U": "user", "P": "password"}
    result = subprocess.run(
        [SANSFILM, "--config", str(config), command],
        capture_output=True,
        text=True,
        timeout=900,
        env=env | ({"SANSFILM_PSEUDO_KEY": key} if key is not None else {}),
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("command", ["run", "rebuild"])
@pytest.mark.parametrize("kind", list(NETWORK_SOURCES))
def test_a_network_source_without_the_programmes_key_is_refused_before_anything_is_written(
    corpus, tmp_path, kind, command
):
    config = with_network_source(corpus, tmp_path, kind)
    before = sorted(p.relative_to(config.parent) for p in config.parent.rglob("*"))
    unset = sansfilm_with_key(config, command, None)
    assert unset.returncode == 2
    assert unset.stderr.splitlines() == [
        "error: SANSFILM_PSEUDO_KEY is not set, and the development key is refused for a configuration that reads an"
        " archive over the network (source 'pacs'): its patients may be real, and the development key is published."
        " Set SANSFILM_PSEUDO_KEY to the programme's secret pseudonymisation key."
    ]
    published = sansfilm_with_key(config, command, DEVELOPMENT_KEY)
    assert published.returncode == 2
    (line,) = published.stderr.splitlines()
    assert line.startswith("error: SANSFILM_PSEUDO_KEY is the published development key, which is refused"), line
    assert "(source 'pacs')" in line, line
    assert sorted(p.relative_to(config.parent) for p in config.parent.rglob("*")) == before  # no warehouse, no .dagster


def test_with_the_programmes_key_the_run_harvests_the_files_and_names_the_unreachable_archive(corpus, tmp_path):
    config = with_network_source(corpus, tmp_path, "dicomweb")
    ran = sansfilm_with_key(config, "run", "a-key-of-the-programme-" + "k" * 8)
    assert ran.returncode == 2
    (line,) = ran.stderr.splitlines()
    assert "SANSFILM_PSEUDO_KEY" not in line and "development key" not in line, line  # past the key
    assert line.startswith("error: the run failed: raw__harvest_pacs: "), line
    assert "127.0.0.1:9" in line, line
    assert (config.parent / "warehouse" / "sansfilm.duckdb").exists()  # the file sources were harvested
