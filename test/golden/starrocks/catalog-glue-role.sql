CREATE EXTERNAL CATALOG IF NOT EXISTS lake PROPERTIES (
  "type" = "hive",
  "hive.metastore.type" = "glue",
  "aws.glue.use_instance_profile" = "true",
  "aws.glue.region" = "eu-west-1",
  "aws.glue.iam_role_arn" = "arn:aws:iam::123456789012:role/starrocks-lake",
  "aws.s3.use_instance_profile" = "true",
  "aws.s3.region" = "eu-west-1",
  "aws.s3.iam_role_arn" = "arn:aws:iam::123456789012:role/starrocks-lake"
);
