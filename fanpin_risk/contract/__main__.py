"""``python -m fanpin_risk.contract``: regenerate data_schema/DATA_DICTIONARY.md from the contract files."""

from ._dictionary import data_dictionary_markdown
from ._schema import schema_dir

if __name__ == "__main__":
    target = schema_dir() / "DATA_DICTIONARY.md"
    target.write_text(data_dictionary_markdown(), encoding="utf-8")
    print(f"wrote {target}")
