"""bench/corpus.py (issue 7): the benchmark corpus is deterministic for a seed, covers every message
kind it promises, and names maildir files with their exact size (Dovecot trusts ",S=")."""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import corpus  # noqa: E402


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = [m for _, m in corpus.messages(7, 40, max_size=200_000)]
    b = [m for _, m in corpus.messages(7, 40, max_size=200_000)]
    c = [m for _, m in corpus.messages(8, 40, max_size=200_000)]
    assert a == b
    assert a != c
    # A prefix of a longer corpus is the same corpus.
    assert [m for _, m in corpus.messages(7, 10, max_size=200_000)] == a[:10]


def test_kinds_sizes_and_maildir_names(tmp_path):
    total = corpus.write_maildir(tmp_path / "md", seed=1, count=300, max_size=2_000_000)
    files = sorted((tmp_path / "md" / "cur").iterdir())
    assert len(files) == 300
    assert sum(f.stat().st_size for f in files) == total
    for f in files:
        assert int(re.search(r",S=(\d+):2,", f.name).group(1)) == f.stat().st_size
    data = [f.read_bytes() for f in files]
    assert any(b"multipart/alternative" in d for d in data)
    assert any(b"Content-Transfer-Encoding: base64" in d for d in data)
    assert any(b"message/rfc822" in d for d in data)
    assert any(b"=?UTF-8?" in d for d in data)
    assert any(b"\xe9" in d for d in data)  # the raw 8-bit header of a malformed one
    sizes = [len(d) for d in data]
    assert min(sizes) >= 1000 and max(sizes) > 100_000 and max(sizes) <= 2_100_000


def test_hard_links_reuse_the_pool(tmp_path):
    corpus.write_maildir(tmp_path / "pool", seed=2, count=5, max_size=20_000)
    corpus.write_maildir(tmp_path / "big", seed=2, count=12, link_from=tmp_path / "pool")
    files = list((tmp_path / "big" / "cur").iterdir())
    assert len(files) == 12
    assert all(f.stat().st_nlink >= 2 for f in files)
