"""The MLflow model registry of fanpin_risk: one registered model per label, aliases for the one to use.

Every training run logged to MLflow (``fanpin_risk.train(..., log_to_mlflow=True)``,
``fanpin-risk train``) registers its model as a new version of

- ``fanpin_risk`` for the default label (``relapse``),
- ``fanpin_risk_<label>`` for another label (``fanpin_risk_reentry``, ...), so
  a model of one question never stands in for a model of another.

Which version to use is said by aliases, never by "whichever is newest":

- ``champion``: the packaged default model rebuilt by ``fanpin-risk train --default``,
  or a version given ``alias="champion"`` (``fanpin-risk train --alias champion``).
  Setting it moves it: the previous champion keeps its version number.
- any other alias given with ``alias=`` (``challenger``, ``county_520102``, ...).
- ``models:/fanpin_risk/latest`` (MLflow's own, not an alias: ``latest`` is
  reserved) is always the newest version.

Each version is tagged with the model kind, label, data size and fingerprint
and the training time; the description says the same in one line.
"""

from __future__ import annotations

import re
import time

from fanpin_risk.errors import ModelError

__all__ = ["REGISTERED_MODEL", "CHAMPION", "registered_model_name", "model_uri", "check_alias", "set_alias",
           "describe_version"]

REGISTERED_MODEL = "fanpin_risk"
CHAMPION = "champion"
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}")


def registered_model_name(label: str = "relapse") -> str:
    """Registered model name of a label: ``fanpin_risk`` (relapse) or ``fanpin_risk_<label>``."""
    if label in ("", "relapse", None):
        return REGISTERED_MODEL
    return f"{REGISTERED_MODEL}_{re.sub(r'[^0-9A-Za-z_]+', '_', str(label)).strip('_')}"


def model_uri(alias: str = CHAMPION, label: str = "relapse") -> str:
    """``models:/`` URI of an alias, e.g. ``models:/fanpin_risk@champion`` (load it after ``use_store()``)."""
    return f"models:/{registered_model_name(label)}@{alias}"


def check_alias(alias: str) -> str:
    """``alias`` when MLflow accepts it as an alias; else a ModelError saying why."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise ModelError(f"alias {alias!r}: use letters, digits, '_' or '-' (e.g. 'champion', 'challenger')")
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise ModelError(f"alias {alias!r} is reserved by MLflow (models:/fanpin_risk/latest already names the "
                         "newest version, v<N> a version number): choose another, e.g. 'champion' or 'challenger'")
    return alias


def set_alias(name: str, version: str | int, alias: str = CHAMPION) -> str:
    """Point ``alias`` of registered model ``name`` at ``version`` (moving it from any other); return its URI.

    Parameters
    ----------
    name : str
        Registered model name (``fanpin_risk``; see :func:`registered_model_name`).
    version : str or int
        Version number to point at.
    alias : str, default "champion"

    Returns
    -------
    str
        ``models:/<name>@<alias>``.

    Raises
    ------
    ModelError
        An alias MLflow reserves (``latest``, ``v3``) or with other characters.
    """
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(name, check_alias(alias), str(version))
    return f"models:/{name}@{alias}"


def describe_version(model) -> tuple[str, dict[str, str]]:
    """(one-line description, tags) of a model version: kind, label, data size and fingerprint, training time."""
    meta = model.metadata
    fp = meta.get("data_fingerprint", {})
    label = meta.get("label", {}).get("definition", "")
    trained = time.strftime("%Y-%m-%d %H:%M")
    tags = {"model": model.kind, "label": label, "horizon": str(meta.get("label", {}).get("horizon", "")),
            "households": str(fp.get("households", "")), "rows": str(fp.get("rows", "")),
            "data_sha256": str(fp.get("sha256", "")), "train_years": ",".join(map(str, meta.get("train_years", []))),
            "trained_at": trained, "package_version": str(meta.get("package_version", ""))}
    n = fp.get("households")
    size = f"{int(n):,}户" if isinstance(n, (int, float)) else "?户"
    text = (f"{model.kind} · {size} · {label} · trained {trained} on {tags['train_years']} "
            f"(data sha256 {tags['data_sha256'][:12]}…)")
    return text, tags
