// Makes the demo shop's campaign and engagements in an Engage account, through the admin
// API. Usage (node 18+):
//
//   node web/demo-setup.mjs http://127.0.0.1:8080 ACCOUNT_ID API_KEY
//
// then open http://127.0.0.1:8080/demo/?site=ACCOUNT_ID. The browser tests run this too.

export const ENGAGEMENTS = [
  {
    name: 'Welcome (embedded)', engagementType: 5, zoneId: 1,
    targeting: { sections: { include: ['home'] } },
    content: { title: 'Welcome to Leaf & Kettle', body: 'New here? Our tea experts answer in minutes.', acceptLabel: 'Ask a tea expert', closeLabel: 'Not now' },
  },
  {
    name: 'Browsing help (sticky)', engagementType: 6, zoneId: 2,
    targeting: { sections: { include: ['catalog'] } },
    content: { title: 'Looking for something?', body: 'Tell us what you like and we will suggest a tea.', acceptLabel: 'Chat now', closeLabel: 'Close' },
  },
  {
    name: 'Teaware advice (slide-out)', engagementType: 3, zoneId: 3,
    targeting: { sections: { include: ['teaware'] } },
    content: { title: 'Questions about this piece?', body: 'Sizes, materials, care: ask the people who use it.', acceptLabel: 'Chat now', closeLabel: 'No thanks' },
  },
  {
    name: 'Tea tasting notes (peeling corner)', engagementType: 0, zoneId: 5,
    targeting: { sections: { include: ['tea'] } },
    content: { title: 'Tasting notes', body: 'Ask how to brew it right.', acceptLabel: 'Ask us', closeLabel: 'Close' },
  },
  {
    name: 'Big cart (toaster)', engagementType: 2, zoneId: 6, timeoutSeconds: 30,
    targeting: { sections: { include: ['cart'] }, sdes: [{ path: 'cartStatus.total', op: 'gt', value: 40 }] },
    content: { title: 'Free shipping unlocked', body: 'Your cart is over $40. Anything we can help you add?', acceptLabel: 'Chat now', closeLabel: 'Close' },
  },
  {
    name: 'Checkout help (overlay)', engagementType: 1, zoneId: 7,
    targeting: { sections: { include: ['checkout'] }, frequency: { maxImpressions: 1 } },
    content: { title: 'Need a hand with your order?', body: 'An agent can complete it with you.', acceptLabel: 'Get help', closeLabel: 'I am fine' },
  },
];

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
  const campaign = await call('POST', '/campaigns', { name: 'Leaf & Kettle demo' });
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
