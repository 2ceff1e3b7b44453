"""pipeline.io.yamlfile: the study's YAML read strictly, every problem one line naming the place."""

import pytest

from pipeline import params
from pipeline.errors import PipelineError
from pipeline.io import yamlfile


def read_text(tmp_path, data: bytes, name="study.yaml"):
    path = tmp_path / name
    path.write_bytes(data)
    return yamlfile.read(path), str(path)


def error(tmp_path, data: bytes) -> tuple[str, str]:
    path = tmp_path / "study.yaml"
    path.write_bytes(data)
    with pytest.raises(PipelineError) as err:
        yamlfile.read(path)
    assert "\n" not in str(err.value)
    return str(err.value), str(path)


def test_a_good_file(tmp_path):
    data, _ = read_text(
        tmp_path,
        "seed: 0\nname: café\nbase: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  x: 3\n"
        "list: [1, 2]\n".encode(),
    )
    assert data == {
        "seed": 0,
        "name": "café",
        "base": {"x": 1, "y": 2},
        "merged": {"x": 3, "y": 2},
        "list": [1, 2],
    }
    assert read_text(tmp_path, b"# nothing\n")[0] is None


def test_a_duplicate_key_at_the_top_level(tmp_path):
    msg, path = error(tmp_path, b"seed: 0\ntaus: [0, 1]\nseed: 1\n")
    assert msg == f"{path}:3:1: duplicate key seed (first at line 1)"


def test_a_duplicate_key_nested(tmp_path):
    msg, path = error(
        tmp_path, b"settings:\n  toy:\n    ft:\n      lr: 0.1\n      epochs: 2\n      lr: 0.2\n"
    )
    assert msg == f"{path}:6:7: duplicate key settings.toy.ft.lr (first at line 4)"
    msg, path = error(tmp_path, b"exchange:\n  toy: [{a: 1, a: 2}]\n")
    assert msg == f"{path}:2:16: duplicate key exchange.toy[0].a (first at line 2)"


def test_non_utf8_bytes(tmp_path):
    msg, path = error(tmp_path, "seed: 0\nname: café\n".encode("latin-1"))
    assert msg == f"{path}: expected UTF-8 text, found byte 0xe9 at byte offset 17 (line 2)"


@pytest.mark.parametrize(
    "data, where, found",
    [
        (b"seed: 0\n taus: [0]\n", "2:6", "a ':' where no mapping value is allowed"),
        (b"taus: [0, 1\nseed: 0\n", "2:5", "':' where ',' or ']' was expected"),
        (b"seed:\n\t- 1\n", "2:1", "character '\\t' that cannot start any token"),
        (b"name: 'x\n", "2:1", "unexpected end of stream"),
        (b"a: 1\n---\nb: 2\n", "2:1", "another document"),
        (b"a: !!python/object/apply:os.system [ls]\n", "1:4", "the tag"),
    ],
)
def test_a_syntax_error_is_one_line_with_its_place(tmp_path, data, where, found):
    msg, path = error(tmp_path, data)
    assert msg.startswith(f"{path}:{where}: expected valid YAML, found {found}")


def test_a_missing_file(tmp_path):
    with pytest.raises(
        PipelineError, match=r"nope.yaml: expected a params file, found nothing at that path"
    ):
        params.read_raw(tmp_path / "nope.yaml")


def test_read_raw_uses_it(tmp_path):
    (tmp_path / "params.yaml").write_bytes(b"seed: 0\nseed: 1\n")
    with pytest.raises(
        PipelineError, match=r"params.yaml:2:1: duplicate key seed \(first at line 1\)$"
    ):
        params.read_raw(tmp_path / "params.yaml")
