/**
 * Makes the checkout an installed extension of a code-server profile, without packaging or copying:
 * a link in the extensions folder plus its entry in the profile's extensions.json. A rebuild and a
 * window reload load the new code. (The URL's extensionDevelopmentPath works only with the smoke-test
 * driver, which `npm start` leaves off because it hides notifications.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileEntry {
  identifier: { id: string };
  version: string;
  location: { $mid: 1; scheme: 'file'; path: string };
  relativeLocation: string;
}

export function linkExtension(extensionsDir: string, extensionRoot: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(extensionRoot, 'package.json'), 'utf8')) as {
    publisher: string;
    name: string;
    version: string;
  };
  const id = `${manifest.publisher}.${manifest.name}`;
  const folderName = `${id}-${manifest.version}`;
  fs.mkdirSync(extensionsDir, { recursive: true });

  // Only links of ours are replaced: an uninstall from the UI removes the link, never the checkout.
  for (const name of fs.readdirSync(extensionsDir)) {
    const entry = path.join(extensionsDir, name);
    if (name.startsWith(`${id}-`) && fs.lstatSync(entry).isSymbolicLink()) fs.unlinkSync(entry);
  }
  fs.symlinkSync(extensionRoot, path.join(extensionsDir, folderName), 'dir');

  const profileFile = path.join(extensionsDir, 'extensions.json');
  const others = fs.existsSync(profileFile)
    ? (JSON.parse(fs.readFileSync(profileFile, 'utf8')) as ProfileEntry[]).filter((e) => e.identifier.id.toLowerCase() !== id.toLowerCase())
    : [];
  const ours: ProfileEntry = {
    identifier: { id },
    version: manifest.version,
    location: { $mid: 1, scheme: 'file', path: path.join(extensionsDir, folderName) },
    relativeLocation: folderName,
  };
  fs.writeFileSync(profileFile, JSON.stringify([...others, ours]));
  return id;
}
