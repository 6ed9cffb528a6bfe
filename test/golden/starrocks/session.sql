SET time_zone = '+00:00';

SET query_timeout = 900;

SET insert_timeout = 900;
