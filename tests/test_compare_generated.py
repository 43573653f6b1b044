"""The script that shows a refactor left the book's output unchanged (.ci/compare_generated.py)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ci"))
from compare_generated import compare  # noqa: E402


def notebook(folder: Path, glued: str, table: str, table_id: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cells = [dict(cell_type="code", outputs=[
        dict(output_type="display_data", data={"application/papermill.record/text/plain": glued},
             metadata=dict(scrapbook=dict(name="effect_0"))),
        dict(output_type="execute_result", data={"text/html": f'<table id="T_{table_id}">{table}</table>'}, metadata={}),
        dict(output_type="stream", name="stdout", text=["done\n"])])]
    (folder / "chapter.ipynb").write_text(json.dumps(dict(cells=cells)))


def test_the_same_numbers_under_new_table_ids_are_no_difference(tmp_path):
    notebook(tmp_path / "old", "'-1.2 ± 0.4'", "<td>31.5</td>", "1a2b3")
    notebook(tmp_path / "new", "'-1.2 ± 0.4'", "<td>31.5</td>", "9f8e7")
    assert compare(tmp_path / "old", tmp_path / "new") == []


def test_a_changed_glued_value_or_table_is_named(tmp_path):
    notebook(tmp_path / "old", "'-1.2 ± 0.4'", "<td>31.5</td>", "1a2b3")
    notebook(tmp_path / "new", "'-1.3 ± 0.4'", "<td>31.6</td>", "1a2b3")
    problems = compare(tmp_path / "old", tmp_path / "new")
    assert any("glued effect_0" in p for p in problems) and any("displayed outputs differ" in p for p in problems)
