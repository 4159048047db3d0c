-- The circle's address book (services/orders/domain/addresses.py): one row per building of an
-- estate, with its entrance's point; the operator replaces it whole from a CSV file.
CREATE TABLE IF NOT EXISTS address_book (
    estate_id   text NOT NULL,
    building    text NOT NULL,
    estate_zh   text NOT NULL,
    estate_en   text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    pinyin      text NOT NULL DEFAULT '',
    initials    text NOT NULL DEFAULT '',
    search_text text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (estate_id, building)
);
