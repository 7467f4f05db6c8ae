"""Writes search_cases.json: what the pinned mlflow release does with a corpus
of search filters and order_by clauses, for search_filter_test.cc to check
Ferry's parser against.

Each case runs through mlflow's own parser *and* its SQLAlchemy store (on a
throwaway SQLite database), because several accept/reject decisions live in
the store (comparators per attribute, experiment_id values, numeric
attributes of model versions, ...). The expected outcome is the parsed terms
when the store accepts the search, or "error".

Where mlflow is inconsistent (it accepts a filter and then fails with a
non-MlflowException, or builds SQL that cannot mean what was asked) Ferry
rejects or deliberately differs; those cases carry "mlflow" (what mlflow
did) and "note" (why Ferry differs) beside "expect".

Run: /work/main/.venv/bin/python src/ferry/tracking/testdata/gen_search_cases.py
"""

import json
import logging
import math
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.model_registry.sqlalchemy_store import (  # noqa: E402
    SqlAlchemyStore as RegistryStore,
)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore  # noqa: E402
from mlflow.utils.search_logged_model_utils import parse_filter_string  # noqa: E402
from mlflow.utils.search_utils import (  # noqa: E402
    SearchExperimentsUtils,
    SearchLoggedModelsUtils,
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)

HERE = os.path.dirname(os.path.abspath(__file__))

KIND = {
    "metric": "metric",
    "parameter": "parameter",
    "tag": "tag",
    "attribute": "attribute",
    "dataset": "dataset",
}
LM_KIND = {"attributes": "attribute", "metrics": "metric", "params": "parameter", "tags": "tag"}
LM_ATTR = {
    "creation_timestamp_ms": "creation_timestamp",
    "last_updated_timestamp_ms": "last_updated_timestamp",
}

NUMERIC = {
    "runs": {"start_time", "end_time"},
    "experiments": {"creation_time", "last_update_time"},
    "registered_models": set(),
    "model_versions": {"version_number"},
    "logged_models": {"creation_timestamp", "last_updated_timestamp"},
}


def value_json(v):
    if v is None:
        return {"type": "none"}
    if isinstance(v, (tuple, list, set)):
        return {"type": "list", "value": [str(x) for x in v]}
    if isinstance(v, float):
        if math.isinf(v):
            return {"type": "double", "value": "inf" if v > 0 else "-inf"}
        return {"type": "double", "value": v}
    if isinstance(v, int):
        return {"type": "double", "value": float(v)}
    return {"type": "string", "value": v}


def term(kind, key, comparator, value, entity):
    if kind == "metric" or (kind == "attribute" and key in NUMERIC[entity]):
        if isinstance(value, str):
            value = float(value)
    return {"kind": kind, "key": key, "comparator": comparator.upper(), "value": value_json(value)}


def parse_terms(entity, f):
    if entity == "logged_models":
        out = []
        for c in parse_filter_string(f):
            kind = LM_KIND[c.entity.type.value]
            key = LM_ATTR.get(c.entity.key, c.entity.key) if kind == "attribute" else c.entity.key
            out.append(term(kind, key, c.op, c.value, entity))
        return out
    utils = {
        "runs": SearchUtils,
        "experiments": SearchExperimentsUtils,
        "registered_models": SearchModelUtils,
        "model_versions": SearchModelVersionUtils,
    }[entity]
    out = []
    for p in utils.parse_search_filter(f):
        key = p["key"]
        if entity == "runs":
            key = SearchUtils.translate_key_alias(key)
        out.append(term(KIND[p["type"]], key, p["comparator"], p["value"], entity))
    return out


class Stores:
    def __init__(self, root):
        uri = f"sqlite:///{root}/mlflow.db"
        self.tracking = TrackingStore(uri, f"{root}/artifacts")
        self.registry = RegistryStore(uri)

    def search(self, entity, filter_string=None, order_by=None):
        if entity == "runs":
            self.tracking.search_runs(["0"], filter_string, ViewType.ALL, 5, order_by)
        elif entity == "experiments":
            self.tracking.search_experiments(ViewType.ALL, 5, filter_string, order_by)
        elif entity == "registered_models":
            self.registry.search_registered_models(filter_string, 5, order_by)
        elif entity == "model_versions":
            self.registry.search_model_versions(filter_string, 5, order_by)
        elif entity == "logged_models":
            ob = None if order_by is None else [{"field_name": o} for o in order_by]
            self.tracking.search_logged_models(["0"], filter_string, None, 5, ob)


def outcome(fn):
    """("ok", value) | ("error", message) | ("crash", message)."""
    try:
        return "ok", fn()
    except MlflowException as e:
        if e.error_code == "INVALID_PARAMETER_VALUE":
            return "error", e.message
        return "crash", f"{e.error_code}: {e.message}"
    except Exception as e:  # mlflow lets these escape as HTTP 500
        return "crash", f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------------------
# Corpus. Cases shared by every entity come first, then each entity's own.

COMMON = [
    "",
    "   ",
    "name = 'a'",
    "tags.k = 'v'",
    "tag.k = 'v'",
    "tags.k != 'v'",
    "tags.k LIKE 'v%'",
    "tags.k like 'v%'",
    "tags.k ILIKE '%V'",
    "tags.k IS NULL",
    "tags.k IS NOT NULL",
    "tags.k is null",
    "tags.k IN ('a', 'b')",
    "tags.k NOT IN ('a')",
    "tags.k = \"v\"",
    "tags.k = v",
    "tags.k = 1",
    "tags.k > 'v'",
    "tags.`my key` = 'v'",
    'tags."my key" = \'v\'',
    "tags.mlflow.runName = 'x'",
    "tags.`mlflow.runName` = 'x'",
    "tags.k = 'it''s'",
    "tags.k = 'it\\'s'",
    "tags.k = ''",
    "tags.k = 'a b  c'",
    "tags.k = 'caf\u00e9'",
    "tags.k='v'",
    "  tags.k   =   'v'  ",
    "tags.k = 'v' AND tags.j = 'w'",
    "tags.k = 'v' and tags.j = 'w'",
    "tags.k = 'v' AnD tags.j = 'w'",
    "tags.k = 'v' AND",
    "AND tags.k = 'v'",
    "tags.k = 'v' AND AND tags.j = 'w'",
    "tags.k = 'v' OR tags.j = 'w'",
    "tags.k = 'v' tags.j = 'w'",
    "(tags.k = 'v')",
    "(tags.k = 'v') AND (tags.j = 'w')",
    "NOT tags.k = 'v'",
    "tags.k = 'v';",
    "tags.k = 'v'; tags.j = 'w'",
    "tags.k = 'unterminated",
    "tags.k = \"unterminated",
    "tags.k",
    "tags.k =",
    "= 'v'",
    "'v' = tags.k",
    "tags.k == 'v'",
    "tags.k <> 'v'",
    "tags.k ~ 'v'",
    "tags.k RLIKE 'v'",
    "tags.k NOT LIKE 'v'",
    "foo.k = 'v'",
    "metrics.m > 1",
    "params.p = 'x'",
    "attributes.name = 'a'",
    "attribute.name = 'a'",
    "datasets.name = 'a'",
    "tags.k = 'v' -- comment",
    "tags.k = 'v' /* c */",
    "tags.k = 'v' AND tags.k = 'w'",
    "tags.k IS",
    "tags.k IS NOT",
    "tags.k IS 'v'",
    "tags.k IN ()",
    "tags.k = ('a')",
    "tags.1k = 'v'",
    "tags.k-1 = 'v'",
    "tags.k_1 = 'v'",
    "tags.`k-1` = 'v'",
    "tags.k$ = 'v'",
    "tags.k.1 = 'v'",
    "tags. k = 'v'",
    "tags .k = 'v'",
    "TAGS.k = 'v'",
    "`tags`.k = 'v'",
    "\"tags\".k = 'v'",
    "tags.k = 'v'\n AND\ttags.j = 'w'",
    "tags.k = 'a%b_c'",
    "tags.k = 'v' AND tags.j IS NULL",
    "tags.k = 'v',",
    "tags.k = 'v' AND 1 = 1",
    "tags.select = 'v'",
    "tags.from = 'v'",
    "tags.`` = 'v'",
    "tags.`a``b` = 'v'",
    "tags.k = 'a\"b'",
    "tags.k = \"a'b\"",
    "name LIKE 'a%'",
    "name ILIKE 'A%'",
    "name != 'a'",
    "name = \"a\"",
    "name = 1",
    "name > 'a'",
    "name IN ('a', 'b')",
    "name NOT IN ('a', 'b')",
    "name IN ('a',)",
    "name IN ('a')",
    "name IN ()",
    "name IN (1, 2)",
    "name IN ('a', 1)",
    "name IN ('a' 'b')",
    "name IN (\"a\", \"b\")",
    "name IN ('a\\nb')",
    "name IN ('a', 'b'",
    "name IN 'a'",
    "name IS NULL",
    "attributes.nope = 'a'",
    "nope = 'a'",
    "run_id = 'a'",
    "attributes.run_id IN ('a', 'b')",
    "metrics.m = 'x'",
    "params.p = 1",
    "model_id = 'm-1'",
    "status = 'READY'",
    "version_number = 1",
    "experiment_id = '1'",
    "creation_timestamp > 1",
    "creation_time > 1",
    "tags.'k' = 'v'",
    "tags.* = 'v'",
    "tags.k = 'v' AND (tags.j = 'w')",
    "tags.k = 1.5",
    "tags.k = null",
    "tags.k = 'a' 'b'",
    "tags.k = -1",
    "name = ('a', 'b')",
    "name LIKE ('a')",
    "name IN ('a', ('b'))",
    "name IN (('a'))",
    "name IN ('a', 'b',)",
    "name IN ('a',,'b')",
    "name IN ('a)', 'b(')",
    "name in ('a')",
    "name not in ('a')",
    "name NOT  IN ('a')",
    "tags.k IS  NOT   NULL",
    "tags.k IS NULL AND tags.j IS NOT NULL",
    "tags.k\tIS\tNULL",
    "tags. = 'v'",
    "tags.k. = 'v'",
    "tags.k IS NOT NULL AND",
]

PER_ENTITY = {
    "runs": [
        "metrics.acc > 0.9",
        "metric.acc >= 1",
        "metrics.acc < -2",
        "metrics.acc <= .5",
        "metrics.acc = 1e3",
        "metrics.acc != 1E-3",
        "metrics.acc > 1.",
        "metrics.acc > -1.5e2",
        "metrics.acc > 0x10",
        "metrics.acc > 1e",
        "metrics.acc > +1",
        "metrics.acc > - 1",
        "metrics.acc > 1a",
        "metrics.acc > 12345678901234567890",
        "metrics.acc LIKE '1'",
        "metrics.acc IS NULL",
        "metrics.acc IN (1, 2)",
        "metrics.acc > '1'",
        "metrics.`acc loss` > 1",
        'metrics."acc loss" > 1',
        "metrics.acc>1 AND params.lr='0.1'",
        "params.lr = '0.1'",
        "param.lr = '0.1'",
        "parameters.lr = '0.1'",
        "parameter.lr = '0.1'",
        "params.lr != \"0.1\"",
        "params.lr LIKE '0.%'",
        "params.lr ILIKE '0.%'",
        "params.lr IS NULL",
        "params.lr IS NOT NULL",
        "params.lr > '0.1'",
        "params.lr IN ('a')",
        "attributes.status = 'FINISHED'",
        "attribute.status = 'FINISHED'",
        "attr.status = 'FINISHED'",
        "run.status = 'FINISHED'",
        "attributes.status IN ('FINISHED', 'FAILED')",
        "attributes.run_id = 'abc'",
        "attributes.run_id IN ('a', 'b')",
        "attributes.run_id NOT IN ('a')",
        "attributes.run_id IN ()",
        "attributes.run_id IN ('a', 1)",
        "attributes.run_id IS NULL",
        "attributes.run_name = 'r'",
        "attributes.`run name` = 'r'",
        "attributes.`Run Name` LIKE 'r%'",
        "attributes.`Run name` = 'r'",
        "attributes.\"run name\" = 'r'",
        "attributes.user_id = 'u'",
        "attributes.artifact_uri LIKE 'file:%'",
        "attributes.start_time > 1000",
        "attributes.start_time > 1.5",
        "attributes.start_time >= '1000'",
        "attributes.start_time LIKE '1'",
        "attributes.start_time IN (1)",
        "attributes.end_time <= 5",
        "attributes.created > 5",
        "attributes.Created < 5",
        "attributes.experiment_id = '0'",
        "attributes.lifecycle_stage = 'active'",
        "attributes.status > 'A'",
        "attributes.status = 1",
        "datasets.name = 'd'",
        "dataset.digest = 'x'",
        "datasets.context = 'training'",
        "datasets.name IN ('a', 'b')",
        "datasets.digest NOT IN ('a')",
        "datasets.context LIKE 'train%'",
        "datasets.name > 'a'",
        "datasets.name = 1",
        "datasets.nope = 'a'",
        "datasets.name IS NULL",
        "start_time > 1",
        "status = 'FINISHED'",
        "`metrics`.acc > 1",
        "metrics.acc > 1 AND metrics.acc < 2 AND params.p = 'x' AND tags.t = 'y'",
        "attributes.run_id = ('a', 'b')",
        "attributes.run_id LIKE ('a')",
        "attributes.run_id in ('a')",
        "metrics.1acc > 1",
        "metrics.1 > 1",
        "metrics.acc > 1e5x",
        "metrics.acc > -.5",
        "metrics.acc>=-1",
        "params.lr = 0.01",
        "parameters.1acc = 'x'",
        "datasets.context IN ('train', 'eval')",
    ],
    "experiments": [
        "name = 'exp'",
        "attribute.name = 'exp'",
        "attributes.name = 'exp'",
        "attr.name = 'exp'",
        "name LIKE 'e%'",
        "name ILIKE 'E%'",
        "name != 'x'",
        "name IN ('a')",
        "name like 'a%'",
        "name ILIKE 'a%'",
        "name ilike 'a%'",
        "experiment_id in ('1')",
        "experiment_id not in ('1')",
        "experiment_id = ' 12 '",
        "experiment_id = '-1'",
        "experiment_id = '1_0'",
        "experiment_id = '1.0'",
        "experiment_id = '1'",
        "experiment_id != '1'",
        "experiment_id = 'abc'",
        "experiment_id = 1",
        "experiment_id IN ('1', '2')",
        "experiment_id NOT IN ('1')",
        "experiment_id IN ('1', 'x')",
        "experiment_id LIKE '1%'",
        "experiment_id > '1'",
        "creation_time > 1000",
        "creation_time >= 1000 AND creation_time <= 2000",
        "creation_time = 1.5",
        "creation_time = 1e3",
        "creation_time > '1000'",
        "creation_time LIKE '1'",
        "creation_time IN (1, 2)",
        "last_update_time < 5",
        "last_update_time != -1",
        "tags.k = 'v'",
        "tags.`k k` = 'v'",
        "tag.k = 'v'",
        "tags.k IS NULL",
        "tags.k IS NOT NULL",
        "tags.k IN ('a')",
        "tags.k > 'a'",
        "metrics.m > 1",
        "params.p = 'x'",
        "datasets.name = 'x'",
        "artifact_location = 'x'",
        "lifecycle_stage = 'active'",
        "name IS NULL",
        "`name` = 'x'",
        "\"name\" = 'x'",
        "attributes.`name` = 'x'",
    ],
    "registered_models": [
        "name = 'm'",
        "name LIKE 'm%'",
        "name ILIKE 'M%'",
        "name != 'm'",
        "name IN ('a', 'b')",
        "name NOT IN ('a')",
        "name > 'a'",
        "name = 1",
        "attributes.name = 'm'",
        "attribute.name = 'm'",
        "attr.name = 'm'",
        "`name` = 'm'",
        "tags.k = 'v'",
        "tag.k = 'v'",
        "tags.`k k` = 'v'",
        "tags.k LIKE 'v'",
        "tags.k IS NULL",
        "tags.k IN ('a')",
        "tags.k > 'a'",
        "tags.`mlflow.prompt.is_prompt` = 'true'",
        "creation_timestamp > 1",
        "last_updated_timestamp > 1",
        "run_id = 'x'",
        "source_path = 'x'",
        "description = 'x'",
    ],
    "model_versions": [
        "name = 'm'",
        "name LIKE 'm%'",
        "name IN ('a', 'b')",
        "name NOT IN ('a')",
        "run_id = 'r'",
        "run_id IN ('r1', 'r2')",
        "run_id NOT IN ('r1')",
        "run_id LIKE 'r%'",
        "source_path = 's3://x'",
        "source_path LIKE 's3://%'",
        "source_path IN ('a')",
        "version_number = 1",
        "version_number > 1",
        "version_number <= 10",
        "version_number != 2",
        "version_number = '3'",
        "version_number = 'x'",
        "version_number = 1.5",
        "version_number = 1e3",
        "version_number LIKE '1'",
        "version_number IN (1, 2)",
        "version_number IN ('1', '2')",
        "name = 1",
        "run_id = 1",
        "name > 'a'",
        "attributes.name = 'm'",
        "attribute.run_id = 'r'",
        "tags.k = 'v'",
        "tag.k = 'v'",
        "tags.k LIKE 'v'",
        "tags.k IS NULL",
        "tags.k IN ('a')",
        "tags.k = 1",
        "creation_timestamp > 1",
        "last_updated_timestamp > 1",
        "current_stage = 'Production'",
        "metrics.m > 1",
        "name = 'm' AND version_number > 1 AND tags.k = 'v'",
    ],
    "logged_models": [
        "name = 'm'",
        "name LIKE 'm%'",
        "name ILIKE 'M%'",
        "name != 'm'",
        "name IN ('a', 'b')",
        "name NOT IN ('a')",
        "name > 'a'",
        "attributes.name = 'm'",
        "attribute.name = 'm'",
        "model_id = 'm-1'",
        "model_type = 'agent'",
        "status = 'READY'",
        "source_run_id = 'r'",
        "creation_timestamp > 100",
        "creation_timestamp >= 1.5",
        "creation_time > 100",
        "last_updated_timestamp < 5",
        "creation_timestamp LIKE '1'",
        "creation_timestamp = '1'",
        "metrics.acc > 0.5",
        "metrics.acc = 1",
        "metrics.acc != -1e3",
        "metrics.acc LIKE '1'",
        "metrics.acc > 'x'",
        "metrics.`acc loss` > 1",
        "metric.acc > 1",
        "params.p = 'x'",
        "params.p LIKE 'x%'",
        "params.p IN ('a', 'b')",
        "params.p > 'x'",
        "param.p = 'x'",
        "tags.t = 'x'",
        "tags.t ILIKE 'X'",
        "tags.t IS NULL",
        "tag.t = 'x'",
        "datasets.name = 'x'",
        "metrics.acc > 0.5 AND params.p = 'x' AND name = 'm'",
        "experiment_id = '1'",
        "nope = 'x'",
        "last_updated_time < 5",
        "params.lr = 0.01",
        "params.lr = '0.01'",
        "attributes.creation_time > 1",
        "metrics.`acc` > 1",
        "tags.`a`b` = 'x'",
        "model_type IN ('a', 'b')",
    ],
}

ORDER_COMMON = [
    "",
    "name",
    "name ASC",
    "name DESC",
    "name asc",
    "name desc",
    "name Desc",
    "name  DESC",
    "name UP",
    "name DESC ASC",
    "name DESC NULLS LAST",
    "`name` DESC",
    "attributes.name",
    "attribute.name DESC",
    "tags.k",
    "tags.k DESC",
    "tags.`k k` ASC",
    "params.p",
    "params.`p p` DESC",
    "metrics.m",
    "metrics.m DESC",
    "metric.m ASC",
    "metrics.`m m` DESC",
    "metrics.\"m m\" DESC",
    "datasets.name",
    "nope",
    "timestamp",
    "timestamp DESC",
    "last_updated_timestamp",
    "last_updated_timestamp DESC",
    "creation_timestamp",
    "creation_time DESC",
    "last_update_time",
    "last_updated_time",
    "experiment_id",
    "version_number DESC",
    "start_time",
    "attributes.start_time DESC",
    "attributes.created",
    "attributes.end_time ASC",
    "attributes.run_name",
    "attributes.status DESC",
    "attributes.run_id",
    "attributes.`Run Name`",
    "model_id",
    "status",
    "name,",
    "name, creation_time",
    "(name)",
    "name DESC;",
    "'name'",
    "1",
    " name",
    "name ",
    "name DESC ",
    "creation_time",
    "last_updated_time",
    "tags.name",
    "attributes.`Run name`",
    "metrics.",
    "metrics",
    "metrics.m desc",
    "params.p NULLS",
    "`name`",
    '"name" DESC',
    "name\tDESC",
    "tags.it's",
    "metrics.m DESC DESC",
]


def main():
    cases = {"filters": {}, "order_by": {}}
    with tempfile.TemporaryDirectory() as root:
        stores = Stores(root)
        for entity in ["runs", "experiments", "registered_models", "model_versions", "logged_models"]:
            seen = set()
            out = []
            for f in COMMON + PER_ENTITY[entity]:
                if f in seen:
                    continue
                seen.add(f)
                out.append(filter_case(stores, entity, f))
            cases["filters"][entity] = out
            seen = set()
            out = []
            for o in ORDER_COMMON:
                if o in seen:
                    continue
                seen.add(o)
                out.append(order_case(stores, entity, o))
            cases["order_by"][entity] = out
    path = os.path.join(HERE, "search_cases.json")
    with open(path, "w") as fp:
        json.dump(cases, fp, indent=1, ensure_ascii=False)
        fp.write("\n")
    n_f = sum(len(v) for v in cases["filters"].values())
    n_o = sum(len(v) for v in cases["order_by"].values())
    print(f"wrote {path}: {n_f} filter cases, {n_o} order_by cases", file=sys.stderr)


def filter_case(stores, entity, f):
    st, val = outcome(lambda: stores.search(entity, filter_string=f))
    case = {"filter": f}
    if st == "ok":
        pst, terms = outcome(lambda: parse_terms(entity, f))
        if pst != "ok":
            case["expect"] = "error"
            case["mlflow"] = f"store accepted, parser failed: {terms}"
        else:
            case["expect"] = terms
    else:
        case["expect"] = "error"
        if st == "crash":
            case["mlflow"] = val
    override = DEVIATIONS.get((entity, f))
    if override is not None:
        expect, note = override
        case["mlflow"] = case.get("mlflow", case["expect"])
        case["expect"] = expect
        case["note"] = note
    elif "mlflow" in case and case["expect"] == "error":
        case["note"] = "mlflow fails with an internal error; Ferry rejects with InvalidArgument"
    return case


def order_term(entity, clause):
    if entity == "runs":
        t, k, asc = SearchUtils.parse_order_by_for_search_runs(clause)
        k = SearchUtils.translate_key_alias(k)
    elif entity == "experiments":
        t, k, asc = SearchExperimentsUtils.parse_order_by_for_search_experiments(clause)
    elif entity == "registered_models":
        k, asc = SearchUtils.parse_order_by_for_search_registered_models(clause)
        t = "attribute"
        if k == "timestamp":  # the store sorts both by last_updated_time
            k = "last_updated_timestamp"
    elif entity == "model_versions":
        t, k, asc = SearchModelVersionUtils.parse_order_by_for_search_model_versions(clause)
    else:
        # The SQL store reads field_name itself (_apply_order_by_search_logged_models):
        # "metrics.<key>" or any column of SqlLoggedModel, under its aliases.
        if "." in clause:
            t, k = "metric", clause.split(".", 1)[1]
        else:
            t, k = "attribute", {"creation_time": "creation_timestamp"}.get(clause, clause)
        asc = True
    return {"kind": KIND[t], "key": k, "ascending": asc}


def order_case(stores, entity, clause):
    case = {"clause": clause}
    st, val = outcome(lambda: stores.search(entity, order_by=[clause]))
    if st == "ok":
        pst, t = outcome(lambda: order_term(entity, clause))
        case["expect"] = t if pst == "ok" else "error"
        if pst != "ok":
            case["mlflow"] = f"store accepted, parser failed: {t}"
    else:
        case["expect"] = "error"
        if st == "crash":
            case["mlflow"] = val
    override = ORDER_DEVIATIONS.get((entity, clause))
    if override is not None:
        expect, note = override
        case["mlflow"] = case.get("mlflow", case["expect"])
        case["expect"] = expect
        case["note"] = note
    elif "mlflow" in case and case["expect"] == "error":
        case["note"] = "mlflow fails with an internal error; Ferry rejects with InvalidArgument"
    return case


def T(kind, key, comparator, value):
    return {"kind": kind, "key": key, "comparator": comparator, "value": value_json(value)}


_LM_QUOTES = (
    "search_logged_model_utils strips only single quotes from values (value.strip(\"'\")) and "
    "backticks from keys, so a double-quoted value or key keeps its quotes and can never match; "
    "Ferry unquotes double quotes as every other search does"
)
_LM_LIST = (
    "mlflow evaluates the list with ast.literal_eval and binds whatever it gets; Ferry requires a "
    "non-empty list of strings, as the other searches do"
)

# (entity, filter) -> (what Ferry does, why it differs from mlflow).
DEVIATIONS = {
    ("logged_models", 'tags.k = "v"'): ([T("tag", "k", "=", "v")], _LM_QUOTES),
    ("logged_models", 'tags."my key" = \'v\''): ([T("tag", "my key", "=", "v")], _LM_QUOTES),
    ("logged_models", 'tags.k = "a\'b"'): ([T("tag", "k", "=", "a'b")], _LM_QUOTES),
    ("logged_models", 'name = "a"'): ([T("attribute", "name", "=", "a")], _LM_QUOTES),
    ("logged_models", "tags.k = v"): (
        "error",
        "mlflow takes an unquoted name as the string itself; Ferry asks for a quoted string "
        "(unquoted numbers stay accepted: mlflow's own message suggests params.lr = 0.01)",
    ),
    ("logged_models", "tags.k IN ()"): ("error", _LM_LIST),
    ("logged_models", "name IN ()"): ("error", _LM_LIST),
    ("logged_models", "name IN (1, 2)"): ("error", _LM_LIST),
    ("logged_models", "name IN ('a', 1)"): ("error", _LM_LIST),
    ("logged_models", "last_updated_time < 5"): (
        [T("attribute", "last_updated_timestamp", "<", 5.0)],
        "mlflow lists last_updated_time among the logged-model search keys but its SQL store has "
        "no such column (AttributeError, HTTP 500); Ferry reads it as last_updated_timestamp",
    ),
}
DEVIATIONS.update({
    ("logged_models", "tags.k = null"): (
        "error",
        "mlflow takes the keyword null as the string 'null'; Ferry asks for a quoted string",
    ),
    ("logged_models", "attributes.creation_time > 1"): (
        [T("attribute", "creation_timestamp", ">", 1.0)],
        "mlflow applies the creation_time alias only to bare keys and fails with AttributeError "
        "(HTTP 500) here; Ferry applies it with the prefix too",
    ),
    ("runs", "parameters.1acc = 'x'"): (
        [T("parameter", "1acc", "=", "x")],
        "sqlparse reads the keyword 'parameters' before '.1' as a keyword, so mlflow refuses this "
        "one spelling; Ferry treats every prefix spelling alike",
    ),
})
ORDER_DEVIATIONS = {
    ("logged_models", "last_updated_time"): (
        {"kind": "attribute", "key": "last_updated_timestamp", "ascending": True},
        "mlflow's SQL store fails with AttributeError (HTTP 500); Ferry reads it as last_updated_timestamp",
    ),
    ("model_versions", "tags.name"): (
        "error",
        "mlflow's model-version order_by drops the tag prefix and sorts by the name attribute",
    ),
}

if __name__ == "__main__":
    main()
