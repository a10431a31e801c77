CREATE TABLE book (
  id serial PRIMARY KEY,
  author_id int NOT NULL REFERENCES author(id),
  title text NOT NULL,
  price_cents int NOT NULL CHECK (price_cents >= 0),
  stock int NOT NULL DEFAULT 0 CHECK (stock >= 0)
);
CREATE INDEX book_author_idx ON book (author_id);
