"""MLflow tracking for asset partitions: one MLflow run per asset partition.

Why not dagster-mlflow's ``mlflow_tracking`` resource: it opens one MLflow run
per *Dagster run* (left RUNNING for asset jobs unless a hook is attached),
whereas salesml wants one run per asset partition, tagged so that a model can
be traced back to its Dagster run, asset, partition and code version. This
resource does that and keeps mlflow out of definitions load time (``import
mlflow`` costs seconds), importing it only when a run starts.

Registered model names: ``gosales_<division>``, ``pricing_recs_<bu_id>``,
``leadconv_<target>``. The ``champion`` alias moves only through
:meth:`MLflowTracker.promote`, which assets call only when gates pass.
"""

from __future__ import annotations

import hmac
import math
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg

from shared import home as home_mod
from shared.sources import PlainSecretError, has_secret, redact, refuse_plain_secrets
from shared.storage import tree_signature

CHAMPION = "champion"
HOLDOUT_SCORES = "holdout_scores.json"
PIP_REQUIREMENTS = ["scikit-learn", "lightgbm", "numpy", "pandas"]
# run tag holding the HMAC (lake key) of a logged model's files: ``salesml.model_hmac.<name>``
MODEL_HMAC_TAG = "salesml.model_hmac."
# written by MLflow into the model folder when a version is registered (after signing); YAML
# metadata (name, version) that loading never executes
_UNSIGNED_FILES = ("registered_model_meta",)
_LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


class ModelIntegrityError(RuntimeError):
    """A model whose files do not match the signature recorded when it was trained: not loaded."""


@dataclass(frozen=True)
class ChampionInfo:
    """The model version currently serving under the ``champion`` alias."""

    name: str
    version: str
    run_id: str
    model_uri: str
    tags: dict[str, str]


_READY: set[str] = set()

# MLflow's answers for "that does not exist": a registered model or artifact that is not
# there (RESOURCE_DOES_NOT_EXIST) and an alias that was never set (INVALID_PARAMETER_VALUE,
# "... alias ... not found"). Everything else (a store that cannot be reached, a broken
# database) is an error the caller must see.
_MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST"}


def is_missing(err: BaseException) -> bool:
    """True when ``err`` is MLflow saying a model, alias or artifact does not exist."""
    code = getattr(err, "error_code", None)
    if code in _MISSING_CODES:
        return True
    return code == "INVALID_PARAMETER_VALUE" and "not found" in str(err)


def _mlflow(uri: str) -> Any:
    """``mlflow`` pointed at ``uri``; a SQLite store is created under a file lock.

    Two processes opening a new SQLite store at once both run its schema
    migration and one fails ("table ... already exists"); the lock makes the
    first one create it and the others find it.
    """
    import mlflow

    mlflow.set_tracking_uri(uri)
    if uri not in _READY and uri.startswith("sqlite:///"):
        from pathlib import Path

        from mlflow.tracking import MlflowClient

        from shared.storage import file_lock

        db = Path(uri.removeprefix("sqlite:///"))
        with file_lock(db.with_suffix(".lock")):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    _READY.add(uri)
    return mlflow


# set while Dagster rebuilds the resource from its resolved config at run time (an
# ``EnvVar`` then arrives as the plain value it names, which must not be refused)
_RESOLVING: ContextVar[bool] = ContextVar("salesml_tracker_resolving", default=False)
_URL_FIELDS = ("tracking_uri", "ui_url")


def refuse_secret_urls(values: Mapping[str, Any], resource: str = "MLflowTracker") -> None:
    """Raise :class:`shared.sources.PlainSecretError` when a URL field of ``values``
    (``tracking_uri``, ``ui_url``) is a plain string carrying a password, token or secret
    query parameter (:func:`shared.sources.has_secret`).

    Resource config set in code is stored in the job snapshot and shown in the UI; a
    ``dg.EnvVar("VAR")`` is stored as ``{env: VAR}`` and read when a run starts, so it is
    accepted. The message shows the URL redacted, never the secret."""
    for field in _URL_FIELDS:
        value = values.get(field)
        if isinstance(value, dg.EnvVar) or not isinstance(value, str) or not has_secret(value):
            continue
        raise PlainSecretError(
            f"{resource}.{field} {redact(value)} carries a secret in plain text: Dagster stores "
            "resource config set in code in the job snapshot and shows it in the UI. Pass "
            f'{field}=dg.EnvVar("MY_MLFLOW_URI") (stored as {{env: MY_MLFLOW_URI}}, read when '
            "a run starts)"
            + (
                " or leave it unset and export $SALESML_MLFLOW_URI"
                if field == "tracking_uri"
                else ""
            )
        )


class MLflowTracker(dg.ConfigurableResource):
    """MLflow runs, model logging and the model registry, scoped to asset partitions.

    ``tracking_uri`` defaults to ``$SALESML_MLFLOW_URI`` or SQLite under the home
    folder (MLflow 3 refuses the plain file store); ``ui_url`` is used to build
    links in asset metadata.

    A URL with a password or token given in code is refused when the definitions load
    (:func:`refuse_secret_urls`); give it as ``dg.EnvVar("VAR")`` or through
    ``$SALESML_MLFLOW_URI``. One typed into run config fails the run before it starts.
    """

    tracking_uri: str | None = None
    ui_url: str = "http://127.0.0.1:5000"

    def __init__(self, **data: Any) -> None:
        if not _RESOLVING.get():
            refuse_secret_urls(data)
        super().__init__(**data)

    def _with_updated_values(self, values: Mapping[str, Any] | None) -> Any:
        # Dagster's run-time rebuild with the resolved config: EnvVar values are now plain
        token = _RESOLVING.set(True)
        try:
            return super()._with_updated_values(values)
        finally:
            _RESOLVING.reset(token)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_plain_secrets(getattr(context.dagster_run, "run_config", None) or {})

    def uri(self) -> str:
        return self.tracking_uri or home_mod.mlflow_uri()

    def mlflow(self) -> Any:
        """The ``mlflow`` module pointed at this tracker's URI."""
        return _mlflow(self.uri())

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        _mlflow(self.uri())
        return MlflowClient(tracking_uri=self.uri())

    def experiment_id(self, name: str) -> str:
        """Get or create an experiment (safe when two processes race to create it)."""
        mlflow = self.mlflow()
        exp = mlflow.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        try:
            location = (home_mod.mlflow_artifacts_dir() / name).as_uri()
            return mlflow.create_experiment(name, artifact_location=location)
        except Exception:  # created meanwhile by a parallel step: read it back
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    @contextmanager
    def partition_run(
        self,
        context: dg.AssetExecutionContext | dg.OpExecutionContext | None,
        experiment: str,
        asset: str,
        partition_key: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """Start one MLflow run for one asset partition; yields the active run.

        Tags: ``dagster.run_id``, ``dagster.asset_key``, ``dagster.partition_key``,
        ``dagster.code_version`` (when known) plus ``tags``.
        """
        mlflow = self.mlflow()
        all_tags = {"dagster.asset_key": asset, "dagster.partition_key": str(partition_key or "")}
        if context is not None:
            all_tags["dagster.run_id"] = context.run_id
            try:
                version = context.assets_def.code_versions_by_key.get(
                    dg.AssetKey.from_user_string(asset)
                )
                if version:
                    all_tags["dagster.code_version"] = str(version)
            except Exception:  # op contexts and direct invocations have no assets_def
                pass
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        run_name = f"{asset}[{partition_key}]" if partition_key else asset
        with mlflow.start_run(
            experiment_id=self.experiment_id(experiment), run_name=run_name, tags=all_tags
        ) as run:
            yield run

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "") -> None:
        """Log finite numeric metrics of the active run (NaN/inf are skipped)."""
        clean = {
            f"{prefix}{k}": float(v)
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(float(v))
        }
        if clean:
            self.mlflow().log_metrics(clean)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.mlflow().log_params({k: str(v)[:500] for k, v in params.items()})

    def log_dict(self, data: Mapping[str, Any], artifact_file: str) -> None:
        self.mlflow().log_dict(dict(data), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.mlflow().log_text(text, artifact_file)

    def log_model(
        self,
        model: Any,
        name: str = "model",
        serialization: str = "skops",
        pip_requirements: list[str] | None = None,
    ) -> str:
        """Log a scikit-learn-compatible model in the active run; returns its model URI.

        ``serialization="skops"`` (default): MLflow 3 refuses to load types it was
        not told to trust, so we trust exactly the types of the model being logged
        (our own model, in our own store). ``"cloudpickle"`` is for objects skops
        cannot serialize (custom wrappers around MAPIE estimators, say).
        """
        import mlflow.sklearn

        self.mlflow()
        kwargs: dict[str, Any] = {"serialization_format": serialization}
        if serialization == "skops":
            import skops.io

            kwargs["skops_trusted_types"] = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        info = mlflow.sklearn.log_model(
            model, name=name, pip_requirements=pip_requirements or PIP_REQUIREMENTS, **kwargs
        )
        # sign what the store now holds (as a reader downloads it): load_model refuses anything else
        with tempfile.TemporaryDirectory(prefix="salesml-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=tmp)
            digest = tree_signature(Path(local), exclude=_UNSIGNED_FILES)
        self.client().set_tag(info.run_id, MODEL_HMAC_TAG + name, digest)
        return info.model_uri

    def register(self, name: str, model_uri: str, tags: Mapping[str, Any] | None = None) -> str:
        """Register a logged model as a new version of ``name``; returns the version."""
        mlflow = self.mlflow()
        mv = mlflow.register_model(
            model_uri, name, tags={k: str(v) for k, v in (tags or {}).items()}
        )
        return str(mv.version)

    def promote(self, name: str, version: str) -> None:
        """Move the ``champion`` alias of ``name`` to ``version``."""
        self.client().set_registered_model_alias(name, CHAMPION, str(version))

    def champion(self, name: str) -> ChampionInfo | None:
        """The current champion of ``name``, or None when nothing was promoted yet."""
        client = self.client()
        try:
            mv = client.get_model_version_by_alias(name, CHAMPION)
        except Exception as err:
            if is_missing(err):  # no such registered model or alias: nothing serving yet
                return None
            raise  # an outage is not "no champion": fail the step loudly
        return ChampionInfo(
            name=name,
            version=str(mv.version),
            run_id=str(mv.run_id),
            model_uri=f"models:/{name}@{CHAMPION}",
            tags=dict(mv.tags or {}),
        )

    def _resolve(self, model_uri: str) -> tuple[str | None, str, str]:
        """``(run id, model name in that run, concrete URI)`` of a ``runs:/<run>/<name>``,
        ``models:/m-<id>``, ``models:/<name>@<alias>`` or ``models:/<name>/<version>`` URI.
        An alias is resolved once here, so what is verified is what is loaded even when
        the alias moves meanwhile."""
        client = self.client()
        if model_uri.startswith("runs:/"):
            run_id, _, path = model_uri.removeprefix("runs:/").partition("/")
            return run_id, path.strip("/"), model_uri
        rest = model_uri.removeprefix("models:/")
        if not model_uri.startswith("models:/") or not rest:
            raise ModelIntegrityError(
                f"refusing to load {model_uri}: only runs:/ and models:/ URIs can be verified"
            )
        if _LOGGED_MODEL_ID.fullmatch(rest):
            logged = client.get_logged_model(rest)
            return logged.source_run_id, logged.name, model_uri
        if "@" in rest:
            name, alias = rest.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = rest.rsplit("/", 1)
            mv = client.get_model_version(name, version)
        source = str(mv.source or "")
        if source.startswith(("runs:/", "models:/")) and source != model_uri:
            return self._resolve(source)
        raise ModelIntegrityError(
            f"refusing to load {model_uri}: its registered source {source!r} is not a model "
            "logged by salesml (runs:/ or models:/m-...)"
        )

    def load_model(self, model_uri: str) -> Any:
        """Load a model logged by :meth:`log_model`, after checking its files against the
        HMAC recorded on its run at training time (the lake key, :func:`shared.home.lake_key`).

        The artifacts are downloaded to a private temporary folder, verified there and
        loaded from there: a model whose files changed after training (or that carries no
        signature) raises :class:`ModelIntegrityError` naming the URI, and nothing of it is
        unpickled.
        """
        import mlflow.sklearn

        mlflow = self.mlflow()
        run_id, name, concrete = self._resolve(model_uri)
        tag = MODEL_HMAC_TAG + name
        expected = self.client().get_run(run_id).data.tags.get(tag, "") if run_id else ""
        with tempfile.TemporaryDirectory(prefix="salesml-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=concrete, dst_path=tmp)
            actual = tree_signature(Path(local), exclude=_UNSIGNED_FILES)
            if not expected or not hmac.compare_digest(expected, actual):
                why = (
                    f"no signature (run tag {tag} of run {run_id} is missing)"
                    if not expected
                    else "its files do not match the signature recorded at training"
                )
                raise ModelIntegrityError(
                    f"refusing to load model {model_uri} ({concrete}): artifact changed since "
                    f"training or not signed by this salesml installation: {why}. Loading it "
                    "could run anyone's code; retrain (materialize the candidate) to replace it."
                )
            for name_ in _UNSIGNED_FILES:  # never read by loading; drop it all the same
                (Path(local) / name_).unlink(missing_ok=True)
            return mlflow.sklearn.load_model(local)

    def load_dict(self, run_id: str, artifact_file: str) -> dict[str, Any]:
        mlflow = self.mlflow()
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact_file}")

    def log_holdout_scores(self, scores: Any) -> None:
        """Log a candidate's probabilities on its out-of-time holdout in the active run:
        the baseline today's scores are compared with (score drift) should it serve."""
        self.log_dict({"candidate": [float(v) for v in scores]}, HOLDOUT_SCORES)

    def holdout_scores(self, run_id: str) -> list[float] | None:
        """The holdout probabilities logged with ``run_id``; None for a model logged before
        they were kept (drift is then not measured)."""
        try:
            return self.load_dict(run_id, HOLDOUT_SCORES)["candidate"]
        except Exception as err:
            if is_missing(err) or isinstance(err, FileNotFoundError):
                return None
            raise  # an unreachable store is not "no baseline": fail the step loudly

    def run_link(self, run: Any) -> str:
        """A link to a run in the MLflow UI (``make ui`` starts it on ``ui_url``)."""
        info = run.info
        return f"{self.ui_url}/#/experiments/{info.experiment_id}/runs/{info.run_id}"

    def model_link(self, name: str, version: str | None = None) -> str:
        """A link to a registered model (its versions and the ``champion`` alias) or to one
        of its versions in the MLflow UI."""
        base = f"{self.ui_url}/#/models/{quote(name, safe='')}"
        return f"{base}/versions/{version}" if version else base
