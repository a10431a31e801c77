CREATE TABLE book_order (
  id serial PRIMARY KEY,
  book_id int NOT NULL REFERENCES book(id),
  quantity int NOT NULL CHECK (quantity > 0),
  placed_at timestamptz NOT NULL DEFAULT now()
);
