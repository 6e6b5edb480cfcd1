/**
 * `npm run images`: builds tasks-api:<version> and tasks-web:<version> from their Dockerfiles with
 * buildah (no container engine needed) on stand-in base images, then prints each image's size.
 * `--rebuild-bases` rebuilds the stand-in bases even when their inputs have not changed. Exit 1 on
 * any failure, 2 on a bad flag.
 */
import { exitCode, runCommandLine } from './ops/cli';
import { appImages, buildAppImage, imageSize, mib, runtimeBase, sizeBudget } from './images/app-images';
import { ensureTools } from './images/buildah';
import { ensureStandInBases } from './images/stand-in-bases';

const log = (line: string) => console.log(`images: ${line}`);

const help = 'usage: npm run images [-- --rebuild-bases]\nBuilds the API and web images with buildah (root, Debian/Ubuntu) and prints their sizes.\n';

runCommandLine(
  { name: 'images', help, usage: 'usage: npm run images [-- --rebuild-bases]', flags: { 'rebuild-bases': { type: 'boolean' } } },
  async (flags) => {
    const started = Date.now();
    await ensureTools(log);
    const bases = await ensureStandInBases({ log, force: flags['rebuild-bases'] });
    for (const b of bases) log(`${b.image}: ${b.built ? 'built' : 'cached'} (${b.from})`);
    for (const image of appImages) {
      log(`building ${image.ref} from ${image.dockerfile}…`);
      await buildAppImage(image, { stream: true });
    }
    const rows = [];
    for (const image of appImages) {
      const size = await imageSize(image.ref, runtimeBase(image));
      const budget = sizeBudget[image.name].compressed;
      rows.push(`| ${image.ref} | ${mib(size.uncompressed)} | ${mib(size.compressed)} | ${mib(size.own.compressed)} | ${mib(budget)}${size.compressed > budget ? ' EXCEEDED' : ''} |`);
    }
    console.log(['', '| image | uncompressed | compressed (gzip layers) | own layers, compressed | budget (compressed) |', '| --- | ---: | ---: | ---: | ---: |', ...rows].join('\n'));
    log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return exitCode.ok;
  },
);
