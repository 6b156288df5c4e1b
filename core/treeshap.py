"""Exact path-dependent TreeSHAP for binary XGBoost boosters, from per-leaf lookup tables.

XGBoost's `pred_contribs=True` took about 100 µs per row for 80 trees of depth 4 on one
thread. Here the work that does not depend on the row is done once per booster: for every
leaf, and for every pattern of agreement between a row and the leaf's root-to-leaf path,
the leaf's Shapley contributions are tabulated. A row then costs one comparison per split
node and one table lookup per leaf, about 20 times less time for the same values.

For a leaf with value v whose path splits on the unique features P (k of them):

- z_j is the product of child cover / parent cover over the path's splits on feature j,
  with cover the node's hessian sum (`sum_hessian` in the model JSON);
- o_j(x) is 1 when row x takes the path's direction at every split on feature j, else 0.
  As in XGBoost, x goes to the "yes" (left) child when x < threshold, compared in
  float32, and a missing value (NaN) goes to the node's default child.

The leaf adds to each feature i in P

    v * (o_i - z_i) * sum over S in P \\ {i} of  |S|! (k - |S| - 1)! / k!
                                                 * prod_{j in S} o_j * prod_{j in P\\S\\{i}} z_j

and nothing to a feature off its path, which is a null player for that leaf. The sum over
all leaves is path-dependent TreeSHAP, and the tests check it against `pred_contribs`.
A table has 2^k x k entries per leaf, so deep trees make the tables large. A booster whose
tables would exceed `MAX_TABLE_FLOATS`, or that has categorical splits, is rejected with
`UnsupportedBoosterError`, and callers fall back to `pred_contribs`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field

import numba
import numpy as np
import xgboost

logger = logging.getLogger(__name__)

# 50 million float32 entries are 200 MB. A full depth-6 tree needs 64 x 384 (2^6 x 6 per
# leaf), so 300 of them need at most 7.4 million. A full depth-8 tree needs 0.5 million.
MAX_TABLE_FLOATS = 50_000_000

SUPPORTED_OBJECTIVE = "binary:logistic"

# Smallest batch explained with the tables. Building them and compiling the kernels takes
# 2.7 to 3.6 s once per process in measurements, as long as `pred_contribs` needs for
# 10,000 to 35,000 rows.
# A batch of 2,000 already runs 12 to 20 times faster from the tables, measured with 80 and
# 300 trees of depth 4 on a 2-core machine. A served single record stays below the cut-over,
# and so do the 1,409 test customers of the default 20 % split of the Telco data.
TABLE_MIN_ROWS = 2_000

# Rows the kernel explains together. Blocks of 64 to 512 rows ran within 10 % of each other.
_ROW_BLOCK = 128

# NOTE: numba's "workqueue" threading layer, used when neither OpenMP nor TBB is available,
# aborts the process when two threads launch parallel kernels at once. Streamlit sessions and
# the model server run in threads, so every kernel launch holds this lock.
_KERNEL_LOCK = threading.Lock()


class UnsupportedBoosterError(ValueError):
    """Raised for a booster the tables cannot explain exactly, so `pred_contribs` must."""


@dataclass(frozen=True)
class _Forest:
    """Every tree's split nodes and every leaf's path, flattened so one kernel loop covers them.

    Tree `t` owns nodes `node_start[t]:node_start[t + 1]`, in the JSON's node order, and
    leaves `leaf_start[t]:leaf_start[t + 1]`. Leaf `l` owns splits
    `split_start[l]:split_start[l + 1]` and unique path features
    `feature_start[l]:feature_start[l + 1]`. A split names its node by the node's index
    within its tree, and the slot of its feature among the leaf's unique features.
    """

    node_start: np.ndarray  # int64 [trees + 1]
    node_feature: np.ndarray  # int64 [nodes]: -1 for a leaf
    node_threshold: np.ndarray  # float32 [nodes]
    node_default_yes: np.ndarray  # bool [nodes]: a missing value takes the "yes" child
    leaf_start: np.ndarray  # int64 [trees + 1]
    leaf_value: np.ndarray  # float64 [leaves]
    split_start: np.ndarray  # int64 [leaves + 1]
    split_node: np.ndarray  # int64 [splits]
    split_goes_yes: np.ndarray  # bool [splits]: the path takes the "yes" (x < threshold) child
    split_slot: np.ndarray  # int64 [splits]
    feature_start: np.ndarray  # int64 [leaves + 1]
    path_feature: np.ndarray  # int64 [unique path features]
    zero_fraction: np.ndarray  # float64 [unique path features]: the z_j above

    def table_sizes(self) -> np.ndarray:
        """Return the table entries of each leaf: 2^k x k for k unique path features."""
        k = np.diff(self.feature_start)
        return (2**k) * k


class TreeShapTables:
    """Exact path-dependent SHAP values of a binary XGBoost booster, from precomputed tables.

    The values match `booster.predict(DMatrix(X), pred_contribs=True)` to float32
    rounding, in the same layout: one column per feature, then the bias column.

    Args:
        booster: Fitted `gbtree` booster with the `binary:logistic` objective and no
            categorical splits. All its trees are used, as `Booster.predict` does.
        max_table_floats: Largest number of table entries (float32) to build.

    Raises:
        UnsupportedBoosterError: If the booster has another objective or booster type,
            more than one output, categorical splits, or tables larger than
            `max_table_floats`.
    """

    def __init__(
        self, booster: xgboost.Booster, *, max_table_floats: int = MAX_TABLE_FLOATS
    ) -> None:
        started = time.perf_counter()
        trees = _supported_trees(json.loads(booster.save_raw("json")))
        self.n_features = booster.num_features()
        self._forest = _flatten_forest(trees)
        sizes = self._forest.table_sizes()
        n_floats = int(sizes.sum())
        if n_floats > max_table_floats:
            raise UnsupportedBoosterError(
                f"The SHAP tables of this booster would hold {n_floats:,} floats, more than "
                f"max_table_floats={max_table_floats:,}. Use pred_contribs for it, or raise "
                "the limit if the memory is there (4 bytes per float)."
            )
        self._table_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._table = np.zeros(n_floats, dtype=np.float32)
        _fill_tables(
            self._forest.leaf_value,
            self._forest.feature_start,
            self._forest.zero_fraction,
            self._table_start,
            self._table,
        )
        self.bias = _bias(booster, self.n_features)
        logger.info(
            "built TreeSHAP tables for %d trees, %d leaves, %d floats in %.2f s",
            len(trees),
            len(self._forest.leaf_value),
            n_floats,
            time.perf_counter() - started,
        )

    @classmethod
    def build_or_none(
        cls, booster: xgboost.Booster, *, max_table_floats: int = MAX_TABLE_FLOATS
    ) -> TreeShapTables | None:
        """Build the tables, or log the reason and return None when the booster is unsupported."""
        try:
            return cls(booster, max_table_floats=max_table_floats)
        except UnsupportedBoosterError as error:
            logger.warning("TreeSHAP tables not used, falling back to pred_contribs: %s", error)
            return None

    def contributions(self, X: np.ndarray, *, n_threads: int | None = None) -> np.ndarray:
        """Compute the SHAP values of each row of `X` in log-odds.

        Args:
            X: Feature matrix [n_rows, n_features] in the booster's column order, with NaN
                for a missing value. It is cast to float32, as a `DMatrix` does.
            n_threads: Threads for the row loop. None uses numba's default (every core).

        Returns:
            float32 array [n_rows, n_features + 1]: the contributions, then the bias.

        Raises:
            ValueError: If `X` is not two-dimensional with `n_features` columns.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X has shape {X.shape}, but the booster was trained on {self.n_features} "
                "features. Pass the encoded matrix [n_rows, n_features]."
            )
        result = np.empty((X.shape[0], self.n_features + 1), dtype=np.float32)
        result[:, -1] = self.bias
        forest = self._forest
        with _KERNEL_LOCK:
            previous_threads = numba.get_num_threads()
            if n_threads is not None:
                numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
            try:
                _accumulate_rows(
                    X,
                    forest.node_start,
                    forest.node_feature,
                    forest.node_threshold,
                    forest.node_default_yes,
                    forest.leaf_start,
                    forest.split_start,
                    forest.split_node,
                    forest.split_goes_yes,
                    forest.split_slot,
                    forest.feature_start,
                    forest.path_feature,
                    self._table_start,
                    self._table,
                    result,
                )
            finally:
                numba.set_num_threads(previous_threads)
        return result


class XGBoostContributions:
    """SHAP values of a booster: `pred_contribs` for small batches, the tables for large ones.

    The tables are built on the first batch of at least `min_table_rows` rows, because
    building them and compiling the numba kernels takes a few seconds once per process,
    while `pred_contribs` explains a single row in a millisecond or less. A booster the
    tables do not support is explained by `pred_contribs` at every size.

    Args:
        booster: Fitted booster. Its own `nthread` setting applies to `pred_contribs`.
        min_table_rows: Smallest batch explained with the tables.
    """

    def __init__(self, booster: xgboost.Booster, *, min_table_rows: int = TABLE_MIN_ROWS) -> None:
        self.booster = booster
        self.min_table_rows = min_table_rows
        self._tables: TreeShapTables | None = None
        self._tables_tried = False
        self._build_lock = threading.Lock()

    @property
    def tables(self) -> TreeShapTables | None:
        """The tables after a large batch has built them, else None (also when unsupported)."""
        return self._tables

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Return SHAP values in log-odds, laid out as `pred_contribs` lays them out.

        Args:
            X: Feature matrix [n_rows, n_features] in the booster's column order.

        Returns:
            float32 array [n_rows, n_features + 1]: the contributions, then the bias.
        """
        if len(X) >= self.min_table_rows:
            tables = self._built_tables()
            if tables is not None:
                return tables.contributions(X)
        matrix = xgboost.DMatrix(X, nthread=1)
        return self.booster.predict(matrix, pred_contribs=True)

    def _built_tables(self) -> TreeShapTables | None:
        with self._build_lock:
            if not self._tables_tried:
                self._tables = TreeShapTables.build_or_none(self.booster)
                self._tables_tried = True
        return self._tables


def _supported_trees(model: dict) -> list[dict]:
    """Return the trees of a parsed model JSON, or raise why the tables cannot explain it."""
    learner = model["learner"]
    objective = learner["objective"]["name"]
    if objective != SUPPORTED_OBJECTIVE:
        raise UnsupportedBoosterError(
            f"The booster's objective is {objective!r}, but the SHAP tables support only "
            f"{SUPPORTED_OBJECTIVE!r}. Use pred_contribs for it."
        )

    params = learner["learner_model_param"]
    n_outputs = max(int(params.get("num_class", "0")), int(params.get("num_target", "1")))
    if n_outputs > 1:
        raise UnsupportedBoosterError(
            f"The booster has {n_outputs} outputs, but the SHAP tables support one output "
            "only. Use pred_contribs for it."
        )

    gradient_booster = learner["gradient_booster"]
    if gradient_booster["name"] != "gbtree":
        raise UnsupportedBoosterError(
            f"The booster type is {gradient_booster['name']!r}, but the SHAP tables support "
            "'gbtree' only. Use pred_contribs for it."
        )

    trees = gradient_booster["model"]["trees"]
    for tree in trees:
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedBoosterError(
                f"Tree {tree['id']} has vector leaves, but the SHAP tables support scalar "
                "leaves only. Use pred_contribs for it."
            )
        if any(tree["split_type"]):
            raise UnsupportedBoosterError(
                f"Tree {tree['id']} has categorical splits, which the SHAP tables do not "
                "support. Use pred_contribs for it."
            )
    return trees


def _flatten_forest(trees: list[dict]) -> _Forest:
    """Flatten the split nodes of `trees` and walk every root-to-leaf path."""
    nodes = _NodeColumns()
    paths = _PathColumns()
    leaf_start = [0]
    for tree in trees:
        nodes.add_tree(tree)
        paths.add_tree(tree)
        leaf_start.append(len(paths.leaf_value))
    return _Forest(
        node_start=np.asarray(nodes.start, dtype=np.int64),
        node_feature=np.asarray(nodes.feature, dtype=np.int64),
        node_threshold=np.asarray(nodes.threshold, dtype=np.float32),
        node_default_yes=np.asarray(nodes.default_yes, dtype=np.bool_),
        leaf_start=np.asarray(leaf_start, dtype=np.int64),
        leaf_value=np.asarray(paths.leaf_value, dtype=np.float64),
        split_start=np.asarray(paths.split_start, dtype=np.int64),
        split_node=np.asarray(paths.split_node, dtype=np.int64),
        split_goes_yes=np.asarray(paths.split_goes_yes, dtype=np.bool_),
        split_slot=np.asarray(paths.split_slot, dtype=np.int64),
        feature_start=np.asarray(paths.feature_start, dtype=np.int64),
        path_feature=np.asarray(paths.path_feature, dtype=np.int64),
        zero_fraction=np.asarray(paths.zero_fraction, dtype=np.float64),
    )


@dataclass
class _NodeColumns:
    start: list[int] = field(default_factory=lambda: [0])
    feature: list[int] = field(default_factory=list)
    threshold: list[np.float32] = field(default_factory=list)
    default_yes: list[bool] = field(default_factory=list)

    def add_tree(self, tree: dict) -> None:
        is_leaf = np.asarray(tree["left_children"]) == -1
        self.feature.extend(np.where(is_leaf, -1, tree["split_indices"]).tolist())
        self.threshold.extend(np.asarray(tree["split_conditions"], dtype=np.float32))
        self.default_yes.extend(bool(flag) for flag in tree["default_left"])
        self.start.append(len(self.feature))


@dataclass
class _PathColumns:
    leaf_value: list[float] = field(default_factory=list)
    split_start: list[int] = field(default_factory=lambda: [0])
    split_node: list[int] = field(default_factory=list)
    split_goes_yes: list[bool] = field(default_factory=list)
    split_slot: list[int] = field(default_factory=list)
    feature_start: list[int] = field(default_factory=lambda: [0])
    path_feature: list[int] = field(default_factory=list)
    zero_fraction: list[float] = field(default_factory=list)

    def add_tree(self, tree: dict) -> None:
        left = tree["left_children"]
        right = tree["right_children"]
        # Depth-first from the root, so nodes pruned out of the arrays are never reached.
        stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            if left[node] == -1:
                # A leaf keeps its value in `split_conditions`.
                self._add_leaf(tree, float(np.float32(tree["split_conditions"][node])), path)
            else:
                stack.append((right[node], [*path, (node, False)]))
                stack.append((left[node], [*path, (node, True)]))

    def _add_leaf(self, tree: dict, value: float, path: list[tuple[int, bool]]) -> None:
        cover = tree["sum_hessian"]
        slots: dict[int, int] = {}
        fractions: list[float] = []
        for parent, goes_yes in path:
            if cover[parent] <= 0:
                raise UnsupportedBoosterError(
                    f"Node {parent} of tree {tree['id']} has cover {cover[parent]}, so the "
                    "fractions of its children are undefined. Use pred_contribs for it."
                )
            feature = tree["split_indices"][parent]
            child = tree["left_children"][parent] if goes_yes else tree["right_children"][parent]
            if feature not in slots:
                slots[feature] = len(slots)
                fractions.append(1.0)
            fractions[slots[feature]] *= cover[child] / cover[parent]
            self.split_node.append(parent)
            self.split_goes_yes.append(goes_yes)
            self.split_slot.append(slots[feature])
        self.leaf_value.append(value)
        self.split_start.append(len(self.split_node))
        self.path_feature.extend(slots)
        self.zero_fraction.extend(fractions)
        self.feature_start.append(len(self.path_feature))


def _bias(booster: xgboost.Booster, n_features: int) -> float:
    """Return XGBoost's own bias column, the same for every row, from one all-missing row."""
    row = np.full((1, n_features), np.nan, dtype=np.float32)
    matrix = xgboost.DMatrix(
        row, feature_names=booster.feature_names, feature_types=booster.feature_types
    )
    return float(booster.predict(matrix, pred_contribs=True)[0, -1])


@numba.njit(parallel=True)
def _fill_tables(leaf_value, feature_start, zero_fraction, table_start, table):
    """Fill each leaf's [2^k, k] table of contributions, one row per agreement pattern."""
    for leaf in numba.prange(leaf_value.shape[0]):
        first = feature_start[leaf]
        k = feature_start[leaf + 1] - first
        if k == 0:
            continue
        # Shapley weight of a coalition of size s among k players: 1 / (k * C(k - 1, s)).
        weight = np.empty(k)
        binomial = 1.0
        for size in range(k):
            weight[size] = 1.0 / (k * binomial)
            binomial = binomial * (k - 1 - size) / (size + 1)
        # coalition[s]: sum over coalitions S of the other features with |S| = s of
        # prod_{j in S} o_j * prod_{j not in S} z_j, built one feature at a time.
        coalition = np.empty(k)
        for pattern in range(1 << k):
            row_start = table_start[leaf] + pattern * k
            for i in range(k):
                coalition[0] = 1.0
                n_players = 0
                for j in range(k):
                    if j == i:
                        continue
                    agree = float((pattern >> j) & 1)
                    zero = zero_fraction[first + j]
                    coalition[n_players + 1] = coalition[n_players] * agree
                    for size in range(n_players, 0, -1):
                        coalition[size] = coalition[size] * zero + coalition[size - 1] * agree
                    coalition[0] *= zero
                    n_players += 1
                total = 0.0
                for size in range(k):
                    total += weight[size] * coalition[size]
                agree_i = float((pattern >> i) & 1)
                gap = agree_i - zero_fraction[first + i]
                table[row_start + i] = leaf_value[leaf] * gap * total


@numba.njit(parallel=True)
def _accumulate_rows(
    X,
    node_start,
    node_feature,
    node_threshold,
    node_default_yes,
    leaf_start,
    split_start,
    split_node,
    split_goes_yes,
    split_slot,
    feature_start,
    path_feature,
    table_start,
    table,
    result,
):
    """Sum every leaf's table entries for each row's agreement pattern into `result`.

    Rows go in blocks of `_ROW_BLOCK`, and each leaf is applied to a whole block at once,
    so the leaf's metadata is read once per block and the inner loops run over rows.
    """
    n_rows, n_features = X.shape
    n_trees = node_start.shape[0] - 1
    max_nodes = 0
    for tree in range(n_trees):
        max_nodes = max(max_nodes, node_start[tree + 1] - node_start[tree])
    n_blocks = (n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK
    for block in numba.prange(n_blocks):
        first_row = block * _ROW_BLOCK
        size = min(_ROW_BLOCK, n_rows - first_row)
        totals = np.zeros((n_features, _ROW_BLOCK))
        # goes_yes[node, r]: 1 when row r of the block takes the "yes" child of `node`.
        goes_yes = np.empty((max_nodes, _ROW_BLOCK), dtype=np.uint8)
        pattern = np.empty(_ROW_BLOCK, dtype=np.int64)
        for tree in range(n_trees):
            first_node = node_start[tree]
            for node in range(node_start[tree + 1] - first_node):
                feature = node_feature[first_node + node]
                if feature < 0:
                    continue
                threshold = node_threshold[first_node + node]
                default_yes = node_default_yes[first_node + node]
                for r in range(size):
                    x = X[first_row + r, feature]
                    if math.isnan(x):
                        goes_yes[node, r] = default_yes
                    else:
                        goes_yes[node, r] = x < threshold
            for leaf in range(leaf_start[tree], leaf_start[tree + 1]):
                first = feature_start[leaf]
                k = feature_start[leaf + 1] - first
                pattern[:size] = (1 << k) - 1
                for split in range(split_start[leaf], split_start[leaf + 1]):
                    node = split_node[split]
                    path_goes_yes = np.uint8(split_goes_yes[split])
                    bit = np.int64(1) << split_slot[split]
                    for r in range(size):
                        if goes_yes[node, r] != path_goes_yes:
                            pattern[r] &= ~bit
                entry = table_start[leaf]
                for slot in range(k):
                    feature = path_feature[first + slot]
                    for r in range(size):
                        totals[feature, r] += table[entry + pattern[r] * k + slot]
        for r in range(size):
            for feature in range(n_features):
                result[first_row + r, feature] = totals[feature, r]
