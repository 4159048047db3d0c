-- Run once by the postgres image, on the first start with an empty data volume
-- (files in /docker-entrypoint-initdb.d). Each Linli service owns its own database on the
-- server, with the names `linli up` gives them (shared/stack.py: linli_<service>).
-- Each service creates its tables itself (its migrations run when it starts).
CREATE DATABASE linli_orders;
CREATE DATABASE linli_inventory;
CREATE DATABASE linli_dispatch;
