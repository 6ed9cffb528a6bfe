CREATE EXTERNAL CATALOG IF NOT EXISTS lake PROPERTIES (
  "type" = "hive",
  "hive.metastore.type" = "hive",
  "hive.metastore.uris" = "thrift://hms-1.internal:9083,thrift://hms-2.internal:9083",
  "aws.s3.use_instance_profile" = "true"
);
