import { pool } from './db.js';

export interface Book {
  id: number;
  title: string;
  author: string;
  priceCents: number;
  stock: number;
}

export class OutOfStockError extends Error {}

export async function listBooks(): Promise<Book[]> {
  const { rows } = await pool.query(
    `SELECT b.id, b.title, a.name AS author, b.price_cents AS "priceCents", b.stock
       FROM book b JOIN author a ON a.id = b.author_id ORDER BY b.id`,
  );
  return rows;
}

export async function addBook(input: { title: string; author: string; priceCents: number; stock?: number }): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const author = await client.query(
      `INSERT INTO author (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
      [input.author],
    );
    const book = await client.query(
      `INSERT INTO book (author_id, title, price_cents, stock) VALUES ($1, $2, $3, $4) RETURNING id`,
      [author.rows[0].id, input.title, input.priceCents, input.stock ?? 0],
    );
    await client.query('COMMIT');
    return book.rows[0].id;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** Sells `quantity` copies: records the order and takes them from stock, or throws when there are not enough. */
export async function sell(bookId: number, quantity: number): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const updated = await client.query('UPDATE book SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING stock', [bookId, quantity]);
    if (updated.rowCount === 0) throw new OutOfStockError(`Not enough copies of book ${bookId}`);
    const order = await client.query('INSERT INTO book_order (book_id, quantity) VALUES ($1, $2) RETURNING id', [bookId, quantity]);
    await client.query('COMMIT');
    return order.rows[0].id;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** Revenue per author, in cents. */
export async function revenueByAuthor(): Promise<Record<string, number>> {
  const { rows } = await pool.query(
    `SELECT a.name, coalesce(sum(o.quantity * b.price_cents), 0)::int AS cents
       FROM author a LEFT JOIN book b ON b.author_id = a.id LEFT JOIN book_order o ON o.book_id = b.id
      GROUP BY a.name ORDER BY a.name`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.cents]));
}
