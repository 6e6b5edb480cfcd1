import { createApp } from 'vue';
import App from './App.vue';
import { createApiClient } from './api/client';
import { fetchRuntimeConfig, waitingFor, waitingKey } from './config';
import { createTaskStore, taskStoreKey } from './stores/useTaskStore';
import { syncTabs } from './stores/tabSync';
import { syncFilterWithAddress } from './stores/filterAddress';
import { keepFocus } from './components/keepFocus';
import './assets/main.css';

const config = await fetchRuntimeConfig();
const store = createTaskStore(createApiClient({ baseUrl: config.apiUrl }), config);
syncFilterWithAddress(store);

createApp(App, { appVersion: config.appVersion }).provide(taskStoreKey, store).provide(waitingKey, waitingFor(config)).mount('#app');
keepFocus(document.getElementById('app')!, () => document.getElementById('new-task'));

void store.load();
syncTabs(store, { channel: `tasks ${new URL(config.apiUrl, location.href).href}` });
void store.loadInfo();
