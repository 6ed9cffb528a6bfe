CREATE EXTERNAL CATALOG IF NOT EXISTS lake PROPERTIES (
  "type" = "hive",
  "hive.metastore.type" = "hive",
  "hive.metastore.uris" = "thrift://metastore:9083",
  "aws.s3.region" = "us-east-1",
  "aws.s3.use_instance_profile" = "true",
  "aws.s3.endpoint" = "http://minio:9000",
  "aws.s3.enable_path_style_access" = "true",
  "aws.s3.enable_ssl" = "false"
);
