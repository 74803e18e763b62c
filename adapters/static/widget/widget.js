/*
 * madoguchi web chat widget.
 *
 * One tag embeds it on any page:
 *   <script src="https://GATEWAY/widget.js" data-lang="auto" data-title="…"></script>
 *
 * Attributes: data-lang ("auto" or one of LANGS' codes), data-title (panel title),
 * data-api (gateway base URL; defaults to where this script came from).
 *
 * Why it is shaped so:
 * - Everything lives in a shadow root under a custom element, so the host page's CSS does
 *   not reach in (":host { all: initial }") and ours does not leak out.
 * - It runs under a strict Content-Security-Policy: no inline scripts or event-handler
 *   attributes, no style attributes (styles come from /widget.css through a <link>, and the
 *   few dynamic sizes go through the CSSOM, which CSP does not restrict).
 * - Data from the server is only ever set with textContent; links are made only for
 *   http(s) and tel URLs, anything else stays plain text.
 * - Transport: POST /api/chat/stream (Server-Sent Events: typing, message…, done); when
 *   that is unavailable, plain POST /api/chat (Rasa REST shape).
 * - History and the sender id live in sessionStorage, so a reload keeps the conversation
 *   and closing the tab forgets it.
 * No external fonts, scripts or network calls other than the gateway. No build step.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__madoguchiWidget) return;

  var LANGS = ["ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl"];

  // UI strings. "starters" are example questions shown under the welcome message.
  var T = {
    ja: {
      name: "日本語", launcher: "質問する", title: "AI窓口",
      welcome: "こんにちは。手続きや暮らしのことなど、市へのご質問にお答えします。",
      privacy: "自動応答です。氏名や住所などの個人情報は入力しないでください。",
      placeholder: "質問を入力してください", input: "質問", send: "送信", close: "閉じる",
      reset: "会話を最初から", language: "言語", typing: "回答を準備しています…",
      you: "あなた", bot: "窓口", suggestions: "関連する質問", startersLabel: "よくある質問",
      source: "情報元", department: "担当", phone: "電話", hours: "受付",
      newTab: "（新しいタブで開きます）",
      error: "接続できませんでした。時間をおいて、もう一度お試しください。",
      tooLong: "質問が長すぎます。短くして、もう一度送ってください。",
      starters: ["保育園の申し込みはいつまでですか", "燃えるごみの日はいつですか", "近くの避難所はどこですか"]
    },
    "ja-easy": {
      name: "やさしい にほんご", launcher: "しつもん する", title: "AI まどぐち",
      welcome: "こんにちは。しやくしょの てつづきや くらしの ことを おしえます。",
      privacy: "きかいが こたえます。なまえや じゅうしょは かかないで ください。",
      placeholder: "しつもんを かいて ください", input: "しつもん", send: "おくる", close: "とじる",
      reset: "はじめから", language: "ことば", typing: "こたえを かんがえて います…",
      you: "あなた", bot: "まどぐち", suggestions: "ほかの しつもん", startersLabel: "よく ある しつもん",
      source: "くわしい ページ", department: "たんとう", phone: "でんわ", hours: "じかん",
      newTab: "（あたらしい タブで ひらきます）",
      error: "つながりません でした。すこし まってから、もう いちど おくって ください。",
      tooLong: "しつもんが ながすぎます。みじかく して ください。",
      starters: ["ほいくえんに はいる もうしこみは いつまでですか", "ごみを だす ひは なんようび ですか", "さいがいの とき、どこへ にげれば いいですか（ひなんじょ）"]
    },
    en: {
      name: "English", launcher: "Ask a question", title: "AI help desk",
      welcome: "Hello! Ask me about city procedures and daily life in the city.",
      privacy: "Automated answers. Please do not enter personal details such as your name or address.",
      placeholder: "Type your question", input: "Your question", send: "Send", close: "Close",
      reset: "Start over", language: "Language", typing: "Preparing an answer…",
      you: "You", bot: "Help desk", suggestions: "Related questions", startersLabel: "Common questions",
      source: "Source", department: "Department", phone: "Phone", hours: "Hours",
      newTab: "(opens in a new tab)",
      error: "Could not connect. Please try again in a moment.",
      tooLong: "Your question is too long. Please shorten it and send it again.",
      starters: ["When is the deadline to apply for a nursery school?", "What day is burnable garbage collected?", "Where is the nearest evacuation shelter?"]
    },
    "zh-Hans": {
      name: "简体中文", launcher: "提问", title: "AI 咨询窗口",
      welcome: "您好！关于市政府的手续和日常生活，欢迎提问。",
      privacy: "本服务为自动回答。请不要输入姓名、地址等个人信息。",
      placeholder: "请输入您的问题", input: "问题", send: "发送", close: "关闭",
      reset: "重新开始", language: "语言", typing: "正在准备回答…",
      you: "您", bot: "窗口", suggestions: "相关问题", startersLabel: "常见问题",
      source: "信息来源", department: "负责部门", phone: "电话", hours: "受理时间",
      newTab: "（在新标签页中打开）",
      error: "无法连接。请稍后再试。",
      tooLong: "问题太长了。请缩短后重新发送。",
      starters: ["保育园的入园申请截止到什么时候？", "可燃垃圾哪天收？", "最近的避难所在哪里？"]
    },
    "zh-Hant": {
      name: "繁體中文", launcher: "提問", title: "AI 諮詢窗口",
      welcome: "您好！關於市政府的手續和日常生活，歡迎提問。",
      privacy: "本服務為自動回答。請勿輸入姓名、地址等個人資料。",
      placeholder: "請輸入您的問題", input: "問題", send: "傳送", close: "關閉",
      reset: "重新開始", language: "語言", typing: "正在準備回答…",
      you: "您", bot: "窗口", suggestions: "相關問題", startersLabel: "常見問題",
      source: "資料來源", department: "負責單位", phone: "電話", hours: "受理時間",
      newTab: "（在新分頁中開啟）",
      error: "無法連線。請稍後再試。",
      tooLong: "問題太長了。請縮短後重新傳送。",
      starters: ["托兒所的入園申請截止到什麼時候？", "可燃垃圾哪一天收？", "最近的避難所在哪裡？"]
    },
    ko: {
      name: "한국어", launcher: "질문하기", title: "AI 상담 창구",
      welcome: "안녕하세요! 시청 절차나 생활에 관한 질문에 답해 드립니다.",
      privacy: "자동 응답입니다. 이름이나 주소 등 개인정보는 입력하지 마세요.",
      placeholder: "질문을 입력하세요", input: "질문", send: "보내기", close: "닫기",
      reset: "처음부터", language: "언어", typing: "답변을 준비하고 있습니다…",
      you: "나", bot: "창구", suggestions: "관련 질문", startersLabel: "자주 묻는 질문",
      source: "출처", department: "담당", phone: "전화", hours: "접수 시간",
      newTab: "(새 탭에서 열림)",
      error: "연결할 수 없습니다. 잠시 후 다시 시도해 주세요.",
      tooLong: "질문이 너무 깁니다. 짧게 줄여서 다시 보내 주세요.",
      starters: ["어린이집 입소 신청은 언제까지인가요?", "타는 쓰레기는 무슨 요일에 버리나요?", "가까운 대피소는 어디인가요?"]
    },
    vi: {
      name: "Tiếng Việt", launcher: "Đặt câu hỏi", title: "Quầy hỗ trợ AI",
      welcome: "Xin chào! Hãy hỏi về thủ tục hành chính và cuộc sống tại thành phố.",
      privacy: "Đây là trả lời tự động. Vui lòng không nhập thông tin cá nhân như họ tên, địa chỉ.",
      placeholder: "Nhập câu hỏi của bạn", input: "Câu hỏi", send: "Gửi", close: "Đóng",
      reset: "Bắt đầu lại", language: "Ngôn ngữ", typing: "Đang chuẩn bị câu trả lời…",
      you: "Bạn", bot: "Quầy hỗ trợ", suggestions: "Câu hỏi liên quan", startersLabel: "Câu hỏi thường gặp",
      source: "Nguồn", department: "Bộ phận", phone: "Điện thoại", hours: "Giờ làm việc",
      newTab: "(mở trong thẻ mới)",
      error: "Không thể kết nối. Vui lòng thử lại sau.",
      tooLong: "Câu hỏi quá dài. Vui lòng rút gọn rồi gửi lại.",
      starters: ["Hạn nộp đơn vào nhà trẻ là khi nào?", "Rác cháy được thu gom vào ngày nào?", "Nơi lánh nạn gần nhất ở đâu?"]
    },
    pt: {
      name: "Português", launcher: "Fazer uma pergunta", title: "Atendimento por IA",
      welcome: "Olá! Pergunte sobre trâmites da prefeitura e a vida na cidade.",
      privacy: "Respostas automáticas. Não digite dados pessoais como nome ou endereço.",
      placeholder: "Digite sua pergunta", input: "Sua pergunta", send: "Enviar", close: "Fechar",
      reset: "Recomeçar", language: "Idioma", typing: "Preparando a resposta…",
      you: "Você", bot: "Atendimento", suggestions: "Perguntas relacionadas", startersLabel: "Perguntas frequentes",
      source: "Fonte", department: "Setor", phone: "Telefone", hours: "Horário",
      newTab: "(abre em nova aba)",
      error: "Não foi possível conectar. Tente novamente em instantes.",
      tooLong: "A pergunta é longa demais. Encurte-a e envie de novo.",
      starters: ["Qual é o prazo para inscrever meu filho na creche?", "Em que dia é a coleta do lixo queimável?", "Onde fica o abrigo de evacuação mais próximo?"]
    },
    es: {
      name: "Español", launcher: "Hacer una pregunta", title: "Atención con IA",
      welcome: "¡Hola! Pregunte sobre trámites municipales y la vida en la ciudad.",
      privacy: "Respuestas automáticas. No escriba datos personales como su nombre o dirección.",
      placeholder: "Escriba su pregunta", input: "Su pregunta", send: "Enviar", close: "Cerrar",
      reset: "Empezar de nuevo", language: "Idioma", typing: "Preparando la respuesta…",
      you: "Usted", bot: "Atención", suggestions: "Preguntas relacionadas", startersLabel: "Preguntas frecuentes",
      source: "Fuente", department: "Sección", phone: "Teléfono", hours: "Horario",
      newTab: "(se abre en una pestaña nueva)",
      error: "No se pudo conectar. Inténtelo de nuevo en un momento.",
      tooLong: "La pregunta es demasiado larga. Acórtela y envíela de nuevo.",
      starters: ["¿Cuál es el plazo para solicitar plaza en la guardería?", "¿Qué día se recoge la basura quemable?", "¿Dónde está el refugio de evacuación más cercano?"]
    },
    th: {
      name: "ไทย", launcher: "ถามคำถาม", title: "ช่องบริการ AI",
      welcome: "สวัสดีค่ะ สอบถามเรื่องขั้นตอนของเทศบาลและการใช้ชีวิตในเมืองได้เลย",
      privacy: "เป็นการตอบอัตโนมัติ โปรดอย่าพิมพ์ข้อมูลส่วนตัว เช่น ชื่อหรือที่อยู่",
      placeholder: "พิมพ์คำถามของคุณ", input: "คำถาม", send: "ส่ง", close: "ปิด",
      reset: "เริ่มใหม่", language: "ภาษา", typing: "กำลังเตรียมคำตอบ…",
      you: "คุณ", bot: "ช่องบริการ", suggestions: "คำถามที่เกี่ยวข้อง", startersLabel: "คำถามที่พบบ่อย",
      source: "แหล่งที่มา", department: "หน่วยงาน", phone: "โทรศัพท์", hours: "เวลาทำการ",
      newTab: "(เปิดในแท็บใหม่)",
      error: "เชื่อมต่อไม่ได้ โปรดลองอีกครั้งในภายหลัง",
      tooLong: "คำถามยาวเกินไป โปรดย่อแล้วส่งใหม่",
      starters: ["สมัครเข้าสถานรับเลี้ยงเด็กได้ถึงวันไหน", "ขยะเผาได้เก็บวันไหน", "ศูนย์อพยพที่ใกล้ที่สุดอยู่ที่ไหน"]
    },
    tl: {
      name: "Tagalog", launcher: "Magtanong", title: "AI na help desk",
      welcome: "Kumusta! Magtanong tungkol sa mga proseso sa city hall at sa buhay sa lungsod.",
      privacy: "Awtomatikong sagot ito. Huwag ilagay ang personal na impormasyon gaya ng pangalan o address.",
      placeholder: "I-type ang iyong tanong", input: "Tanong", send: "Ipadala", close: "Isara",
      reset: "Magsimulang muli", language: "Wika", typing: "Inihahanda ang sagot…",
      you: "Ikaw", bot: "Help desk", suggestions: "Kaugnay na tanong", startersLabel: "Mga karaniwang tanong",
      source: "Pinagmulan", department: "Tanggapan", phone: "Telepono", hours: "Oras",
      newTab: "(magbubukas sa bagong tab)",
      error: "Hindi makakonekta. Pakisubukang muli mamaya.",
      tooLong: "Masyadong mahaba ang tanong. Paikliin at ipadala muli.",
      starters: ["Hanggang kailan ang pag-apply sa nursery school?", "Anong araw kinokolekta ang nasusunog na basura?", "Saan ang pinakamalapit na evacuation center?"]
    }
  };

  var MAX_HISTORY = 80;
  var MAX_CHARS = 2000;
  var SVG = "http://www.w3.org/2000/svg";

  var base = (script.getAttribute("data-api") || new URL(script.src, location.href).origin)
    .replace(/\/+$/, "");
  var storageKey = "madoguchi-widget:" + base;
  var configuredLang = script.getAttribute("data-lang") || "auto";
  var configuredTitle = script.getAttribute("data-title") || "";

  window.__madoguchiWidget = true;

  // ---- pure helpers -------------------------------------------------------------------

  /** BCP 47 tag for a UI language (やさしい日本語 is Japanese to browsers and fonts). */
  function htmlLang(code) {
    return code === "ja-easy" ? "ja" : code;
  }

  /** The UI language for the browser's preferences. */
  function browserLang() {
    var prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (var i = 0; i < prefs.length; i++) {
      var tag = String(prefs[i] || "").toLowerCase();
      if (/^zh-(tw|hk|mo|hant)/.test(tag)) return "zh-Hant";
      var primary = tag.split("-")[0];
      if (primary === "zh") return "zh-Hans";
      if (primary === "fil") return "tl";
      if (LANGS.indexOf(primary) >= 0) return primary;
    }
    return "en";
  }

  /** The href for a URL only when its scheme is http, https or tel; null otherwise. */
  function safeHref(value) {
    if (typeof value !== "string") return null;
    var url;
    try {
      url = new URL(value.trim());
    } catch (e) {
      return null;
    }
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
    if (url.protocol === "tel:" && /^tel:\+?[0-9()\-.]{3,}$/.test(url.href)) return url.href;
    return null;
  }

  /** tel: URL for a phone number as written on a city page ("0299-00-1234"). */
  function telHref(phone) {
    var digits = String(phone || "").replace(/[^0-9+]/g, "");
    return digits.length >= 3 ? "tel:" + digits : null;
  }

  // URLs and Japanese phone numbers inside answer text become links.
  var LINKABLE = /(https?:\/\/[^\s<>"'「」（）()、。]+|\b0\d{1,4}-\d{1,4}-\d{4}\b)/g;

  function randomId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // ---- state ----------------------------------------------------------------------------

  function loadState() {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(storageKey) || "null");
    } catch (e) {
      saved = null;
    }
    var fixed = LANGS.indexOf(configuredLang) >= 0 ? configuredLang : null;
    var state = {
      sender: randomId(),
      lang: fixed || browserLang(),
      // Whether to send metadata.lang: a language fixed by the page or picked by the
      // resident wins; in "auto" mode the gateway detects each question's language.
      langChosen: !!fixed,
      open: false,
      history: []
    };
    if (saved && typeof saved === "object") {
      if (typeof saved.sender === "string" && saved.sender) state.sender = saved.sender;
      if (LANGS.indexOf(saved.lang) >= 0) state.lang = saved.lang;
      state.langChosen = !!saved.langChosen || state.langChosen;
      state.open = !!saved.open;
      if (Array.isArray(saved.history)) state.history = saved.history.slice(-MAX_HISTORY);
    }
    return state;
  }

  var state = loadState();

  function saveState() {
    try {
      state.history = state.history.slice(-MAX_HISTORY);
      sessionStorage.setItem(storageKey, JSON.stringify(state));
    } catch (e) {
      /* storage full or disabled: the conversation still works, it just won't survive a reload */
    }
  }

  function t(key) {
    var table = T[state.lang] || T.en;
    return table[key] !== undefined ? table[key] : T.en[key];
  }

  // ---- DOM helpers ----------------------------------------------------------------------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(paths, size) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    });
    return svg;
  }

  var ICONS = {
    chat: ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"],
    close: ["M6 6l12 12", "M18 6L6 18"],
    reset: ["M4 12a8 8 0 1 0 2.3-5.6", "M4 4v5h5"],
    send: ["M3 11.5L21 3l-8.5 18-2-7.5z", "M10.5 13.5L21 3"],
    globe: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M3 12h18", "M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z"]
  };

  /** A link when href is safe, plain text otherwise. */
  function link(href, text) {
    var safe = safeHref(href);
    if (!safe) return el("span", null, text);
    var a = el("a", null, text);
    a.href = safe;
    if (safe.indexOf("tel:") !== 0) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.appendChild(el("span", "sr-only", " " + t("newTab")));
    }
    return a;
  }

  /** Text with its URLs and phone numbers turned into links; everything else is text. */
  function richText(parent, text) {
    String(text).split("\n").forEach(function (line, i) {
      if (i > 0) parent.appendChild(document.createElement("br"));
      var last = 0;
      line.replace(LINKABLE, function (match, _g, offset) {
        var trimmed = match.replace(/[.,;:!?]+$/, "");
        if (offset > last) parent.appendChild(document.createTextNode(line.slice(last, offset)));
        var href = /^0/.test(trimmed) ? telHref(trimmed) : trimmed;
        parent.appendChild(link(href, trimmed));
        last = offset + trimmed.length;
        return match;
      });
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  // ---- the widget -----------------------------------------------------------------------

  var host = document.createElement("madoguchi-widget");
  // Hidden until our stylesheet has loaded, so the page never shows it unstyled (CSSOM,
  // not a style attribute: allowed under a strict CSP).
  host.style.visibility = "hidden";
  var root = host.attachShadow({ mode: "open" });
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "/widget.css";
  css.addEventListener("load", function () { host.style.visibility = ""; });
  css.addEventListener("error", function () { host.style.visibility = ""; });
  root.appendChild(css);

  var wrap = el("div", "mw");
  root.appendChild(wrap);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-controls", "mw-panel");
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(icon(ICONS.chat, 22));
  var launcherText = el("span", "launcher-text");
  launcher.appendChild(launcherText);
  wrap.appendChild(launcher);

  var panel = el("div", "panel");
  panel.id = "mw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "mw-title");
  panel.setAttribute("aria-describedby", "mw-privacy");
  panel.hidden = true;
  wrap.appendChild(panel);

  var header = el("div", "header");
  var heading = el("div", "heading");
  var title = el("h2", "title");
  title.id = "mw-title";
  heading.appendChild(title);
  header.appendChild(heading);
  var tools = el("div", "tools");
  var langLabel = el("label", "lang");
  langLabel.appendChild(icon(ICONS.globe, 18));
  var langLabelText = el("span", "sr-only");
  langLabel.appendChild(langLabelText);
  var langSelect = el("select", "lang-select");
  langSelect.id = "mw-lang";
  LANGS.forEach(function (code) {
    var opt = el("option", null, T[code].name);
    opt.value = code;
    opt.lang = htmlLang(code);
    langSelect.appendChild(opt);
  });
  langLabel.appendChild(langSelect);
  heading.appendChild(langLabel);
  var resetBtn = el("button", "icon-btn reset");
  resetBtn.type = "button";
  resetBtn.appendChild(icon(ICONS.reset));
  tools.appendChild(resetBtn);
  var closeBtn = el("button", "icon-btn close");
  closeBtn.type = "button";
  closeBtn.appendChild(icon(ICONS.close));
  tools.appendChild(closeBtn);
  header.appendChild(tools);
  panel.appendChild(header);

  var scroller = el("div", "scroller");
  var intro = el("div", "intro");
  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  var typing = el("div", "msg bot typing");
  typing.setAttribute("role", "status");
  var typingBubble = el("div", "bubble");
  typingBubble.setAttribute("aria-hidden", "true");
  typingBubble.appendChild(el("span", "dot"));
  typingBubble.appendChild(el("span", "dot"));
  typingBubble.appendChild(el("span", "dot"));
  var typingText = el("span", "sr-only");
  typing.appendChild(typingBubble);
  typing.appendChild(typingText);
  typing.hidden = true;
  scroller.appendChild(intro);
  scroller.appendChild(log);
  scroller.appendChild(typing);
  panel.appendChild(scroller);

  var form = el("form", "composer");
  form.setAttribute("novalidate", "");
  var inputLabel = el("label", "sr-only");
  inputLabel.htmlFor = "mw-input";
  var input = el("textarea", "input");
  input.id = "mw-input";
  input.rows = 1;
  input.maxLength = MAX_CHARS;
  input.setAttribute("enterkeyhint", "send");
  var sendBtn = el("button", "send");
  sendBtn.type = "submit";
  sendBtn.appendChild(icon(ICONS.send));
  var sendText = el("span", "sr-only");
  sendBtn.appendChild(sendText);
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendBtn);
  panel.appendChild(form);
  var privacy = el("p", "privacy");
  privacy.id = "mw-privacy";
  panel.appendChild(privacy);

  // ---- UI language ----------------------------------------------------------------------

  function applyStrings() {
    wrap.lang = htmlLang(state.lang);
    launcherText.textContent = t("launcher");
    title.textContent = configuredTitle || t("title");
    langLabelText.textContent = t("language");
    langSelect.value = state.lang;
    langSelect.setAttribute("aria-label", t("language"));
    resetBtn.setAttribute("aria-label", t("reset"));
    resetBtn.title = t("reset");
    closeBtn.setAttribute("aria-label", t("close"));
    closeBtn.title = t("close");
    inputLabel.textContent = t("input");
    input.placeholder = t("placeholder");
    sendText.textContent = t("send");
    sendBtn.title = t("send");
    typingText.textContent = t("typing");
    privacy.textContent = t("privacy");
    renderIntro();
  }

  function renderIntro() {
    intro.textContent = "";
    var msg = el("div", "msg bot");
    var bubble = el("div", "bubble", t("welcome"));
    msg.appendChild(bubble);
    intro.appendChild(msg);
    if (!state.history.length) intro.appendChild(quickReplies(
      t("startersLabel"),
      t("starters").map(function (q) { return { title: q, payload: q }; })
    ));
  }

  // ---- rendering messages ---------------------------------------------------------------

  function quickReplies(label, buttons) {
    var group = el("div", "quick");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", label);
    buttons.forEach(function (b) {
      if (!b || typeof b.title !== "string" || !b.title) return;
      var btn = el("button", "chip", b.title);
      btn.type = "button";
      var payload = typeof b.payload === "string" && b.payload ? b.payload : b.title;
      btn.addEventListener("click", function () { ask(payload, b.title); });
      group.appendChild(btn);
    });
    return group;
  }

  function speaker(name) {
    return el("span", "sr-only", name + ": ");
  }

  function renderUser(text) {
    var msg = el("div", "msg user");
    var bubble = el("div", "bubble");
    bubble.appendChild(speaker(t("you")));
    bubble.appendChild(document.createTextNode(text));
    msg.appendChild(bubble);
    log.appendChild(msg);
  }

  function renderError(text) {
    var msg = el("div", "msg bot error");
    msg.appendChild(el("div", "bubble", text));
    log.appendChild(msg);
  }

  /** One bot turn: its messages are added as they arrive (streamed or all at once). */
  function BotTurn() {
    this.lastText = null;
  }

  BotTurn.prototype.add = function (m) {
    if (!m || typeof m !== "object") return;
    var custom = m.custom && typeof m.custom === "object" ? m.custom : null;
    if (typeof m.text === "string" && m.text) this.text(m.text, custom);
    if (typeof m.image === "string" && safeHref(m.image)) {
      var p = el("div", "msg bot");
      var b = el("div", "bubble");
      b.appendChild(link(m.image, m.image));
      p.appendChild(b);
      log.appendChild(p);
    }
    if (Array.isArray(m.buttons) && m.buttons.length) {
      log.appendChild(quickReplies(t("suggestions"), m.buttons));
    }
    if (custom && custom.type === "faq_answer") this.answerCard(custom);
  };

  BotTurn.prototype.text = function (text, custom) {
    var msg = el("div", "msg bot");
    var bubble = el("div", "bubble");
    bubble.appendChild(speaker(t("bot")));
    var body = el("span", "text");
    richText(body, text);
    bubble.appendChild(body);
    msg.appendChild(bubble);
    if (custom && typeof custom.answer_lang === "string") msg.lang = htmlLang(custom.answer_lang);
    log.appendChild(msg);
    this.lastText = { msg: msg, body: body, raw: text };
  };

  BotTurn.prototype.answerCard = function (c) {
    // The text message before the card repeats the source and contact as plain lines
    // (other channels need them); with the card below, show the answer alone.
    var last = this.lastText;
    if (last && typeof c.answer === "string" && c.answer && last.raw.indexOf(c.answer) === 0) {
      last.body.textContent = "";
      richText(last.body, c.note ? c.answer + "\n(" + c.note + ")" : c.answer);
    }
    if (last && typeof c.answer_lang === "string") last.msg.lang = htmlLang(c.answer_lang);
    if (c.kind !== "answer" || (!c.source_url && !c.contact)) return;
    // The card's labels speak the asker's language (custom.lang), like the answer does,
    // even when the UI language differs (data-lang="auto" with an unpicked language).
    var lang = LANGS.indexOf(c.lang) >= 0 ? c.lang : state.lang;
    var label = function (key) { return T[lang][key]; };
    var card = el("div", "card");
    card.lang = htmlLang(lang);
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", label("source"));
    if (typeof c.source_url === "string" && c.source_url) {
      var row = el("div", "card-row source");
      row.appendChild(el("span", "card-label", label("source")));
      // Shown without the scheme (shorter on a phone); the link keeps the full URL.
      row.appendChild(link(c.source_url, c.source_url.replace(/^https?:\/\//, "")));
      card.appendChild(row);
    }
    var contact = c.contact && typeof c.contact === "object" ? c.contact : {};
    if (contact.department) {
      var dep = el("div", "card-row");
      dep.appendChild(el("span", "card-label", label("department")));
      dep.appendChild(el("span", null, contact.department));
      card.appendChild(dep);
    }
    if (contact.phone) {
      var tel = el("div", "card-row");
      tel.appendChild(el("span", "card-label", label("phone")));
      tel.appendChild(link(telHref(contact.phone), contact.phone));
      if (contact.hours) tel.appendChild(el("span", "hours", contact.hours));
      card.appendChild(tel);
    }
    var wrapCard = el("div", "msg bot");
    wrapCard.appendChild(card);
    log.appendChild(wrapCard);
  };

  function renderHistory() {
    log.textContent = "";
    state.history.forEach(function (item) {
      if (item && item.role === "user" && typeof item.text === "string") renderUser(item.text);
      else if (item && item.role === "bot" && Array.isArray(item.messages)) {
        var turn = new BotTurn();
        item.messages.forEach(function (m) { turn.add(m); });
      }
    });
  }

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function setTyping(on) {
    typing.hidden = !on;
    if (on) scrollToEnd();
  }

  // ---- transport ------------------------------------------------------------------------

  function HttpError(status, detail) {
    this.status = status;
    this.detail = detail;
  }

  function StreamUnavailable(reason) {
    this.reason = reason;
  }

  function request(path, body, accept) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: accept },
      body: JSON.stringify(body),
      credentials: "omit"
    });
  }

  function readDetail(res) {
    return res.json().then(function (j) { return j && j.detail; }, function () { return null; });
  }

  /** POST /api/chat/stream: typing, then one event per message, then done. */
  function viaStream(body, onMessage) {
    return request("/api/chat/stream", body, "text/event-stream").then(function (res) {
      if (res.status === 413 || res.status === 422) {
        return readDetail(res).then(function (d) { throw new HttpError(res.status, d); });
      }
      var type = res.headers.get("content-type") || "";
      if (!res.ok || !res.body || type.indexOf("text/event-stream") !== 0) {
        throw new StreamUnavailable("HTTP " + res.status);
      }
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var received = 0;
      var finished = false;

      function handle(block) {
        var event = "message";
        var data = "";
        block.split(/\r?\n/).forEach(function (line) {
          if (line.indexOf("event:") === 0) event = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).replace(/^ /, "");
        });
        var payload = null;
        try { payload = data ? JSON.parse(data) : null; } catch (e) { payload = null; }
        if (event === "typing") setTyping(true);
        else if (event === "message" && payload) { received++; onMessage(payload); }
        else if (event === "done") finished = true;
        else if (event === "error") throw new HttpError(500, payload && payload.detail);
      }

      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (!finished && !received) throw new StreamUnavailable("stream ended early");
            if (!finished) throw new HttpError(502, null);
            return;
          }
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split(/\r?\n\r?\n/);
          buffer = parts.pop();
          parts.forEach(function (block) { if (block.trim()) handle(block); });
          return finished ? reader.cancel().catch(function () {}) : pump();
        });
      }
      return pump();
    }, function (err) {
      throw new StreamUnavailable(String(err));
    });
  }

  /** POST /api/chat, the Rasa REST shape: the whole reply at once. */
  function viaRest(body, onMessage) {
    setTyping(true);
    return request("/api/chat", body, "application/json").then(function (res) {
      if (!res.ok) return readDetail(res).then(function (d) { throw new HttpError(res.status, d); });
      return res.json().then(function (messages) {
        if (!Array.isArray(messages)) throw new HttpError(502, null);
        messages.forEach(onMessage);
      });
    });
  }

  var busy = false;

  /** Send a question (or a button's payload, shown as its title). */
  function ask(message, shown) {
    message = String(message || "");
    if (busy || !message.trim()) return;
    if (message.length > MAX_CHARS) {
      renderError(t("tooLong"));
      scrollToEnd();
      return;
    }
    busy = true;
    log.setAttribute("aria-busy", "true");
    var display = shown || message;
    state.history.push({ role: "user", text: display });
    saveState();
    if (intro.querySelector(".quick")) renderIntro();
    renderUser(display);
    setTyping(true);  // at once; the stream's typing event confirms it

    var body = { sender: state.sender, message: message, metadata: {} };
    if (state.langChosen) body.metadata.lang = state.lang;
    var turn = new BotTurn();
    var got = [];
    function onMessage(m) {
      if (!m || typeof m !== "object") return;
      got.push(m);
      setTyping(false);
      turn.add(m);
      scrollToEnd();
    }

    viaStream(body, onMessage)
      .catch(function (err) {
        if (err instanceof StreamUnavailable) return viaRest(body, onMessage);
        throw err;
      })
      .catch(function (err) {
        var tooLong = err instanceof HttpError && (err.status === 413 || err.status === 422) &&
          /too long|larger than/.test(String(err.detail || ""));
        renderError(tooLong ? t("tooLong") : t("error"));
      })
      .then(function () {
        if (got.length) {
          state.history.push({ role: "bot", messages: got });
          saveState();
        }
        busy = false;
        log.removeAttribute("aria-busy");
        setTyping(false);
        scrollToEnd();
      });
  }

  // ---- open / close / events ------------------------------------------------------------

  function setOpen(open, focus) {
    state.open = open;
    saveState();
    panel.hidden = !open;
    launcher.hidden = open;
    launcher.setAttribute("aria-expanded", String(open));
    wrap.classList.toggle("is-open", open);
    if (open) {
      scrollToEnd();
      if (focus) input.focus();
    } else if (focus) {
      launcher.focus();
    }
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 128) + "px";
  }

  launcher.addEventListener("click", function () { setOpen(true, true); });
  closeBtn.addEventListener("click", function () { setOpen(false, true); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !e.defaultPrevented) {
      e.preventDefault();
      setOpen(false, true);
    }
  });
  langSelect.addEventListener("change", function () {
    if (LANGS.indexOf(langSelect.value) < 0) return;
    state.lang = langSelect.value;
    state.langChosen = true;
    saveState();
    applyStrings();
  });
  resetBtn.addEventListener("click", function () {
    state.history = [];
    state.sender = randomId();
    saveState();
    log.textContent = "";
    renderIntro();
    input.focus();
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    autosize();
    ask(text);
  });
  input.addEventListener("input", autosize);
  input.addEventListener("keydown", function (e) {
    // Enter sends, Shift+Enter is a new line; never send while an IME is composing
    // (Japanese input confirms conversions with Enter).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function mount() {
    document.body.appendChild(host);
    applyStrings();
    renderHistory();
    setOpen(state.open, false);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
