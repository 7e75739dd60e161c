// Makes the demo shop's campaign and engagements in an Engage account, through the admin
// API. Usage (node 18+):
//
//   node web/demo-setup.mjs http://127.0.0.1:8080 ACCOUNT_ID API_KEY
//
// then open http://127.0.0.1:8080/demo/?site=ACCOUNT_ID. The browser tests run this too.

import { readFileSync } from 'node:fs';

// The same definition `engage serve --demo` compiles in.
const DEMO = JSON.parse(readFileSync(new URL('./demo/campaign.json', import.meta.url), 'utf8'));
export const ENGAGEMENTS = DEMO.engagements;

export async function setupDemo(server, account, apiKey) {
  const call = async (method, path, body) => {
    const r = await fetch(`${server}/api/account/${account}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
    return JSON.parse(text);
  };
  const campaign = await call('POST', '/campaigns', DEMO.campaign);
  const made = [];
  for (const e of ENGAGEMENTS) made.push(await call('POST', `/campaigns/${campaign.campaignId}/engagements`, e));
  return { campaign, engagements: made };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, account, apiKey] = process.argv.slice(2);
  if (!server || !account || !apiKey) {
    console.error('usage: node web/demo-setup.mjs SERVER_URL ACCOUNT_ID API_KEY   (engage account create prints the id and key)');
    process.exit(2);
  }
  const { campaign, engagements } = await setupDemo(server.replace(/\/$/, ''), account, apiKey);
  console.log(`campaign ${campaign.campaignId} with ${engagements.length} engagements`);
  console.log(`open ${server.replace(/\/$/, '')}/demo/?site=${encodeURIComponent(account)}`);
}
