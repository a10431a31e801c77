import type { Knex } from 'knex';

export async function seed(knex: Knex): Promise<void> {
  await knex('sessions').del();
  await knex('posts').del();
  await knex('users').del();
  const [ada, grace] = await knex('users')
    .insert([
      { email: 'ada@example.com', name: 'Ada Lovelace' },
      { email: 'grace@example.com', name: 'Grace Hopper' },
    ])
    .returning('id');
  await knex('posts').insert([
    { user_id: ada.id, title: 'Notes on the engine', body: 'The engine weaves algebraic patterns.', published: true },
    { user_id: grace.id, title: 'Found a bug', body: 'A moth, in relay 70.', published: false },
  ]);
  await knex('sessions').insert([{ token: 'dev-session-1', user_id: ada.id, expires_at: knex.raw("now() + interval '1 day'") }]);
}
