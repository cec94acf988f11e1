"""The seeds' Spark job, written by us after their description, as a peer for
`just bench`: Spark Structured Streaming reads the users topic, flattens each
user into one `created_users` row (as the flatten plugin does), and writes the
rows to Cassandra through the spark-cassandra-connector.

One difference from the seeds, on purpose: the topic holds Confluent-framed
Avro (what `host ingest` produces), so the value's 5-byte header (magic byte,
schema id) is stripped and the body decoded with `from_avro` and
schemas/user.avsc, where the seeds had JSON and `from_json`.

Configured by environment (sluice-bench sets it):
  BENCH_BROKERS, BENCH_TOPIC, BENCH_KEYSPACE, BENCH_CASSANDRA (host:port),
  BENCH_CHECKPOINT, BENCH_SCHEMA (path to user.avsc), BENCH_JARS_DIR (connector jars),
  BENCH_TRIGGER_MS (optional micro-batch interval; default: as fast as possible).
PySpark 3.5.7 on OpenJDK 17, master local[2].
"""

import glob
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None:
        raise SystemExit(f"flatten_job.py: {name} is not set")
    return value


def main():
    brokers = env("BENCH_BROKERS", "127.0.0.1:9092")
    topic = env("BENCH_TOPIC")
    keyspace = env("BENCH_KEYSPACE")
    cassandra_host, _, cassandra_port = env("BENCH_CASSANDRA", "127.0.0.1:9042").partition(":")
    checkpoint = env("BENCH_CHECKPOINT")
    with open(env("BENCH_SCHEMA")) as f:
        user_schema = f.read()
    jars = sorted(glob.glob(os.path.join(env("BENCH_JARS_DIR"), "*.jar")))

    spark = (
        SparkSession.builder.appName("users-flatten")
        .master("local[2]")
        .config("spark.jars", ",".join(jars))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.cassandra.connection.host", cassandra_host)
        .config("spark.cassandra.connection.port", cassandra_port or "9042")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")

    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", brokers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")
        .load()
    )
    # Confluent wire format: magic byte + 4-byte schema id, then the Avro body.
    body = F.expr("substring(value, 6, length(value) - 5)")
    user = raw.select(from_avro(body, user_schema).alias("u")).select("u.*")

    # The flatten plugin's row. Avro unions of two non-null types come out of
    # from_avro as structs (member0, member1): postcode is a long or a string.
    rows = user.select(
        F.lower(F.col("login.uuid")).alias("id"),
        F.col("name.first").alias("first_name"),
        F.col("name.last").alias("last_name"),
        F.col("gender"),
        F.format_string(
            "%s %s, %s, %s, %s",
            F.col("location.street.number").cast("string"),
            F.col("location.street.name"),
            F.col("location.city"),
            F.col("location.state"),
            F.col("location.country"),
        ).alias("address"),
        F.coalesce(
            F.col("location.postcode.member0").cast("string"),
            F.col("location.postcode.member1"),
        ).alias("post_code"),
        F.col("email"),
        F.col("login.username").alias("username"),
        F.to_timestamp(F.col("dob.date")).alias("dob"),
        F.to_timestamp(F.col("registered.date")).alias("registered_date"),
        F.col("phone"),
        F.col("picture.medium").alias("picture"),
        F.lit("spark-3.5.7").alias("plugin_version"),
    )

    writer = (
        rows.writeStream.format("org.apache.spark.sql.cassandra")
        .option("keyspace", keyspace)
        .option("table", "created_users")
        .option("checkpointLocation", checkpoint)
        .outputMode("append")
    )
    trigger_ms = os.environ.get("BENCH_TRIGGER_MS")
    if trigger_ms:
        writer = writer.trigger(processingTime=f"{int(trigger_ms)} milliseconds")
    query = writer.start()
    print(f"flatten_job: streaming {topic} -> {keyspace}.created_users", flush=True)
    query.awaitTermination()


if __name__ == "__main__":
    main()
