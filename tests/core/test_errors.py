"""User-facing errors read as one line, whatever third-party text they wrap."""

from ssmkit.errors import ConfigError, DataError


def test_messages_are_one_line():
    wrapped = "Couldn't deserialize thrift: TProtocolException: Invalid data\nDeserializing page header failed.\n"
    err = DataError(f"cannot read the Parquet file: {wrapped}", path="x.parquet", line=3)
    assert str(err) == ("x.parquet, line 3: cannot read the Parquet file: Couldn't deserialize thrift: "
                        "TProtocolException: Invalid data; Deserializing page header failed.")
    assert str(ConfigError("a\r\n  b\n")) == "a; b"
    plain = DataError("not a number: 'a  b'", path="t.csv", column="v")
    assert str(plain) == "t.csv, column 'v': not a number: 'a  b'"  # one-line messages are left as they are
