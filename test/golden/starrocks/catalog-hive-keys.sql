CREATE EXTERNAL CATALOG IF NOT EXISTS lake PROPERTIES (
  "type" = "hive",
  "hive.metastore.type" = "hive",
  "hive.metastore.uris" = "thrift://metastore:9083",
  "aws.s3.use_instance_profile" = "false",
  "aws.s3.access_key" = "AKIAEXAMPLE",
  "aws.s3.secret_key" = "wJalr/K7MDENG+bPxRfiCYEXAMPLEKEY=",
  "aws.s3.endpoint" = "http://minio:9000",
  "aws.s3.enable_path_style_access" = "true",
  "aws.s3.enable_ssl" = "false"
);
