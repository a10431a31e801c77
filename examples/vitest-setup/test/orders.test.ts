import { describe, expect, it } from 'vitest';
import { addBook, revenueByAuthor, sell } from '../src/books.js';
import { pool } from '../src/db.js';

describe('orders', () => {
  it('starts with no orders', async () => {
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM book_order');
    expect(rows[0].n).toBe(0);
  });

  it('computes revenue per author', async () => {
    await sell(1, 2);
    await sell(3, 1);
    expect(await revenueByAuthor()).toEqual({ 'Terry Pratchett': 999, 'Ursula K. Le Guin': 2598 });
  });

  it('counts a new author with no sales', async () => {
    await addBook({ title: 'Parable of the Sower', author: 'Octavia E. Butler', priceCents: 1099, stock: 1 });
    expect((await revenueByAuthor())['Octavia E. Butler']).toBe(0);
  });

  it('survives a schema change made by a test (the reset undoes it)', async () => {
    await pool.query('ALTER TABLE book_order ADD COLUMN gift boolean');
    await pool.query('DROP INDEX book_author_idx');
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'book_order' AND column_name = 'gift'`);
    expect(rows[0].n).toBe(1);
  });

  it('has the original schema again', async () => {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'book_order' AND column_name = 'gift'`);
    expect(rows[0].n).toBe(0);
    const index = await pool.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'book_author_idx'`);
    expect(index.rows[0].n).toBe(1);
  });
});
