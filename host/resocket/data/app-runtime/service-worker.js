/*
 * MV3 background of a converted app. The app's own background scripts do not run here (they expect window and
 * document; see app-runtime.js): this worker only turns a click on the toolbar button into the launch URL.
 */
importScripts('/resocket/app-config.js');

chrome.action.onClicked.addListener(() => {
  const launch = (self.__resocketApp && self.__resocketApp.launch) || 'resocket/launch.html';
  chrome.tabs.create({ url: chrome.runtime.getURL(launch) });
});
