/** The demo page's HTML, with its settings as JSON for the script (`page.ts`). */
export interface DemoPageConfig {
  profiles: string[];
  userToken: string | undefined;
  tokenPath: string;
  anamPath: string;
}

export function demoPage(config: DemoPageConfig): string {
  // `<` escaped, so that no value can close the script element.
  const json = JSON.stringify(config).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tollgate demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
  video { width: 100%; aspect-ratio: 4 / 3; background: #222; border-radius: 6px; }
  #events { font: 13px/1.5 ui-monospace, monospace; max-height: 28rem; overflow: auto; padding-left: 1.5rem; }
  #status { min-height: 1.5em; }
  button { font: inherit; padding: 0.3rem 0.9rem; }
</style>
</head>
<body>
<h1>tollgate demo</h1>
<p>A token from this server, a session with the Anam SDK (on the built-in emulator: no video, the session only signals), and every step of the token's life as the server records it.</p>
<main>
  <section>
    <p>
      <label>Profile <select id="profile"></select></label>
      <button id="start">Start session</button>
      <button id="stop" disabled>End session</button>
    </p>
    <p id="status" role="status"></p>
    <video id="avatar" autoplay playsinline muted></video>
  </section>
  <section>
    <h2>Lifecycle events</h2>
    <ol id="events"></ol>
  </section>
</main>
<script id="demo-config" type="application/json">${json}</script>
<script type="module" src="app.js"></script>
</body>
</html>
`;
}
