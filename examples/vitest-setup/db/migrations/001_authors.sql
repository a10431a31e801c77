CREATE TABLE author (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE
);
