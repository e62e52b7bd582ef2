-- The store's schema version 1 as it shipped (plugins/sinks/store/th-store.c,
-- migrations[0]), with a few rows: tests/test-store.c opens a database made
-- of it with the current store, which must migrate it and keep every row.
-- Never edit: a later schema adds tests/data/store-v2.sql.
CREATE TABLE names (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE);
CREATE TABLE candles (
  symbol INTEGER NOT NULL,
  duration INTEGER NOT NULL,
  start INTEGER NOT NULL,
  open REAL NOT NULL,
  high REAL NOT NULL,
  low REAL NOT NULL,
  close REAL NOT NULL,
  volume REAL,
  trades INTEGER,
  ticks INTEGER NOT NULL,
  source INTEGER,
  origin INTEGER NOT NULL,
  PRIMARY KEY (symbol, duration, start)) WITHOUT ROWID;
CREATE INDEX candles_by_age ON candles (duration, start);
CREATE TABLE ticks (
  symbol INTEGER NOT NULL,
  time INTEGER NOT NULL,
  received INTEGER NOT NULL,
  source INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  price REAL NOT NULL,
  size REAL,
  bid REAL,
  ask REAL);
CREATE INDEX ticks_by_symbol ON ticks (symbol, time);
CREATE TABLE source_changes (
  symbol INTEGER NOT NULL,
  time INTEGER NOT NULL,
  previous INTEGER,
  current INTEGER);
CREATE INDEX source_changes_by_symbol ON source_changes (symbol, time);
CREATE VIEW no_source AS
  SELECT s.name AS symbol, c.time AS start,
         (SELECT MIN(n.time) FROM source_changes n
           WHERE n.symbol = c.symbol AND n.time >= c.time AND n.current IS NOT NULL) AS end
  FROM source_changes c JOIN names s ON s.id = c.symbol
  WHERE c.current IS NULL;
PRAGMA user_version = 1;

INSERT INTO names (id, name) VALUES (1, 'BTC'), (2, 'binance'), (3, 'live');
-- 2023-12-31T23:58:00Z and 23:59:00Z, 1m
INSERT INTO candles VALUES (1, 60000000, 1704067080000000, 41000, 41100, 40900, 41050, 2.5, NULL, 12, 2, 3);
INSERT INTO candles VALUES (1, 60000000, 1704067140000000, 41050, 41060, 41000, 41010, NULL, NULL, 3, 2, 3);
INSERT INTO ticks VALUES (1, 1704067140000000, 1704067140100000, 2, 1, 41050, 0.5, NULL, NULL);
INSERT INTO source_changes VALUES (1, 1704067080000000, NULL, 2);
