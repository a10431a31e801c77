// `prisma db seed` runs this (migrations.seed in prisma.config.ts). It reads DATABASE_URL, which pgclone points at
// the database it works on when it runs the seed as a hook.
import 'dotenv/config'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'

const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) })

const authors = [
  { email: 'ada@example.com', name: 'Ada Lovelace', titles: ['Notes on the Analytical Engine', 'On Bernoulli numbers'] },
  { email: 'grace@example.com', name: 'Grace Hopper', titles: ['The first compiler'] },
]

for (const { email, name, titles } of authors) {
  await prisma.user.upsert({
    where: { email },
    update: {},
    create: { email, name, posts: { create: titles.map((title) => ({ title, publishedAt: new Date('2025-01-01') })) } },
  })
}
console.log(`Seeded ${await prisma.user.count()} users and ${await prisma.post.count()} posts`)
await prisma.$disconnect()
