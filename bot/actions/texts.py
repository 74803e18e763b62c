"""What the bot says itself (outside the FAQ), in every supported language."""

GREET = {
    "ja": "こんにちは。市役所の案内窓口です。子育て、移住、観光、手続き、ごみ、防災について、ご質問をどうぞ。",
    "ja-easy": "こんにちは。しやくしょの あんない です。しつもんを どうぞ。",
    "en": "Hello! This is the city hall help desk. Ask me about childcare, moving here, sightseeing, procedures, garbage or disaster preparedness.",
    "zh-Hans": "您好！这里是市政府咨询窗口。欢迎咨询育儿、移居、观光、手续、垃圾分类和防灾等问题。",
    "zh-Hant": "您好！這裡是市政府諮詢窗口。歡迎諮詢育兒、移居、觀光、手續、垃圾分類和防災等問題。",
    "ko": "안녕하세요! 시청 안내 창구입니다. 육아, 이주, 관광, 각종 수속, 쓰레기, 방재에 대해 질문해 주세요.",
    "vi": "Xin chào! Đây là quầy hướng dẫn của tòa thị chính. Hãy hỏi về nuôi con, chuyển đến sống, du lịch, thủ tục, rác thải hoặc phòng chống thiên tai.",
    "pt": "Olá! Aqui é o balcão de atendimento da prefeitura. Pergunte sobre creches, mudança para a cidade, turismo, procedimentos, lixo ou prevenção de desastres.",
    "es": "¡Hola! Este es el mostrador de información del ayuntamiento. Pregunte sobre cuidado infantil, mudanza, turismo, trámites, basura o prevención de desastres.",
    "th": "สวัสดีค่ะ ที่นี่คือจุดบริการข้อมูลของศาลาว่าการเมือง สอบถามเรื่องการเลี้ยงดูบุตร การย้ายถิ่นฐาน การท่องเที่ยว ขั้นตอนต่าง ๆ ขยะ หรือการป้องกันภัยพิบัติได้เลยค่ะ",
    "tl": "Kumusta! Ito ang help desk ng city hall. Magtanong tungkol sa pag-aalaga ng bata, paglipat dito, turismo, mga proseso, basura o paghahanda sa sakuna.",
}

GOODBYE = {
    "ja": "ご利用ありがとうございました。またいつでもどうぞ。",
    "ja-easy": "ありがとう ございました。また きて ください。",
    "en": "Thank you for using the help desk. Come back any time.",
    "zh-Hans": "感谢您的使用，欢迎随时再来。",
    "zh-Hant": "感謝您的使用，歡迎隨時再來。",
    "ko": "이용해 주셔서 감사합니다. 언제든지 다시 찾아 주세요.",
    "vi": "Cảm ơn bạn đã sử dụng. Hãy quay lại bất cứ lúc nào.",
    "pt": "Obrigado por usar o atendimento. Volte quando quiser.",
    "es": "Gracias por usar el servicio. Vuelva cuando quiera.",
    "th": "ขอบคุณที่ใช้บริการค่ะ แวะมาใหม่ได้ทุกเมื่อ",
    "tl": "Salamat sa paggamit ng help desk. Bumalik anumang oras.",
}

THANKS = {
    "ja": "どういたしまして。ほかにご質問はありますか？",
    "ja-easy": "どういたしまして。ほかに しつもんは ありますか？",
    "en": "You're welcome. Is there anything else I can help with?",
    "zh-Hans": "不客气。还有其他问题吗？",
    "zh-Hant": "不客氣。還有其他問題嗎？",
    "ko": "천만에요. 다른 질문이 있으신가요?",
    "vi": "Không có gì. Bạn còn câu hỏi nào khác không?",
    "pt": "De nada. Posso ajudar em mais alguma coisa?",
    "es": "De nada. ¿Puedo ayudarle en algo más?",
    "th": "ยินดีค่ะ มีคำถามอื่นอีกไหมคะ",
    "tl": "Walang anuman. May iba pa ba akong maitutulong?",
}

OUT_OF_SCOPE = {
    "ja": "申し訳ありません。この窓口では市の手続きや暮らしの情報についてお答えしています。",
    "ja-easy": "ごめんなさい。ここでは しの てつづきや くらしの ことに こたえます。",
    "en": "Sorry, I can only help with city services and life in the city.",
    "zh-Hans": "抱歉，这里只能回答有关市政服务和生活的问题。",
    "zh-Hant": "抱歉，這裡只能回答有關市政服務和生活的問題。",
    "ko": "죄송합니다. 이곳에서는 시의 행정 서비스와 생활 정보에 대해서만 답변드립니다.",
    "vi": "Xin lỗi, tôi chỉ có thể hỗ trợ về dịch vụ của thành phố và đời sống tại đây.",
    "pt": "Desculpe, só posso ajudar com serviços municipais e a vida na cidade.",
    "es": "Lo siento, solo puedo ayudar con los servicios municipales y la vida en la ciudad.",
    "th": "ขออภัย ที่นี่ตอบได้เฉพาะเรื่องบริการของเมืองและการใช้ชีวิตในเมืองเท่านั้น",
    "tl": "Paumanhin, makakatulong lamang ako tungkol sa mga serbisyo ng lungsod at pamumuhay dito.",
}

HANDOVER = {
    "ja": "担当者におつなぎします。{department}（電話 {phone}、{hours}）へお問い合わせください。",
    "ja-easy": "しやくしょの ひとに でんわ してください。{department} でんわ {phone}（{hours}）",
    "en": "Let me put you in touch with staff. Please call {department} (phone {phone}, {hours}).",
    "zh-Hans": "为您转接工作人员。请联系{department}（电话 {phone}，{hours}）。",
    "zh-Hant": "為您轉接工作人員。請聯絡{department}（電話 {phone}，{hours}）。",
    "ko": "담당자에게 연결해 드리겠습니다. {department}(전화 {phone}, {hours})로 문의해 주세요.",
    "vi": "Tôi sẽ kết nối bạn với nhân viên. Vui lòng gọi {department} (điện thoại {phone}, {hours}).",
    "pt": "Vou encaminhá-lo a um atendente. Ligue para {department} (telefone {phone}, {hours}).",
    "es": "Le comunicaré con el personal. Llame a {department} (teléfono {phone}, {hours}).",
    "th": "จะติดต่อเจ้าหน้าที่ให้ค่ะ กรุณาโทร {department} (โทร {phone}, {hours})",
    "tl": "Ikokonekta kita sa kawani. Mangyaring tumawag sa {department} (telepono {phone}, {hours}).",
}


def pick(table: dict, lang: str) -> str:
    """The text in ``lang``, else English."""
    return table.get(lang) or table["en"]

# Handover with a ticket: who to call, when, and the number that finds the conversation.
HANDOVER_TICKET = {
    "ja": "担当者におつなぎします。{department}（電話 {phone}、{hours}）へお電話ください。受付番号は {ticket} です。この番号を伝えると、これまでのやりとりを職員が確認できます。",
    "ja-easy": "しやくしょの ひとに つなぎます。{department} に でんわ して ください（でんわ {phone}、{hours}）。ばんごうは {ticket} です。",
    "en": "I'll pass you to our staff. Please call {department} (phone {phone}, {hours}). Your ticket number is {ticket}: give it to the staff and they can see this conversation.",
    "zh-Hans": "为您转接工作人员。请致电{department}（电话 {phone}，{hours}）。受理编号：{ticket}。告知此编号，工作人员即可查看本次对话。",
    "zh-Hant": "為您轉接工作人員。請致電{department}（電話 {phone}，{hours}）。受理編號：{ticket}。告知此編號，工作人員即可查看本次對話。",
    "ko": "담당자에게 연결해 드리겠습니다. {department}(전화 {phone}, {hours})로 전화해 주세요. 접수 번호는 {ticket}입니다. 이 번호를 알려 주시면 직원이 대화 내용을 확인할 수 있습니다.",
    "vi": "Tôi sẽ chuyển bạn đến nhân viên. Vui lòng gọi {department} (điện thoại {phone}, {hours}). Mã phiếu của bạn là {ticket}; đọc mã này để nhân viên xem lại cuộc trò chuyện.",
    "pt": "Vou encaminhá-lo à equipe. Ligue para {department} (telefone {phone}, {hours}). Seu número de atendimento é {ticket}: informe-o e a equipe verá esta conversa.",
    "es": "Le paso con el personal. Llame a {department} (teléfono {phone}, {hours}). Su número de atención es {ticket}: dígalo y el personal verá esta conversación.",
    "th": "จะส่งต่อให้เจ้าหน้าที่ค่ะ กรุณาโทร {department} (โทร {phone}, {hours}) หมายเลขรับเรื่องคือ {ticket} แจ้งหมายเลขนี้แล้วเจ้าหน้าที่จะดูบทสนทนานี้ได้",
    "tl": "Ipapasa kita sa kawani. Tumawag sa {department} (telepono {phone}, {hours}). Ang ticket number mo ay {ticket}; ibigay ito para makita ng kawani ang usapang ito.",
}

GAVE_UP = {
    "ja": "うまく読み取れませんでした。",
    "ja-easy": "ごめんなさい。よく わかりませんでした。",
    "en": "Sorry, I couldn't understand the answer.",
    "zh-Hans": "抱歉，没能理解您的回答。",
    "zh-Hant": "抱歉，沒能理解您的回答。",
    "ko": "죄송합니다. 답변을 이해하지 못했습니다.",
    "vi": "Xin lỗi, tôi không hiểu câu trả lời.",
    "pt": "Desculpe, não consegui entender a resposta.",
    "es": "Lo siento, no entendí la respuesta.",
    "th": "ขออภัย ไม่เข้าใจคำตอบค่ะ",
    "tl": "Paumanhin, hindi ko naintindihan ang sagot.",
}

REASK = {
    "ja": "すみません、わかりませんでした。下から選んでください。",
    "ja-easy": "ごめんなさい。したから えらんで ください。",
    "en": "Sorry, I didn't catch that. Please choose one of these.",
    "zh-Hans": "抱歉，没有理解。请从下面选择。",
    "zh-Hant": "抱歉，沒有理解。請從下面選擇。",
    "ko": "죄송합니다. 아래에서 선택해 주세요.",
    "vi": "Xin lỗi, tôi chưa hiểu. Vui lòng chọn một mục dưới đây.",
    "pt": "Desculpe, não entendi. Escolha uma das opções.",
    "es": "Perdone, no lo entendí. Elija una de estas opciones.",
    "th": "ขออภัย ไม่เข้าใจ กรุณาเลือกจากด้านล่าง",
    "tl": "Paumanhin, hindi ko nakuha. Pumili po sa mga ito.",
}

ASK_DISTRICT = {
    "ja": "お住まいの地区を教えてください。",
    "ja-easy": "どこの ちく に すんで いますか？",
    "en": "Which district do you live in?",
    "zh-Hans": "请问您住在哪个区？",
    "zh-Hant": "請問您住在哪一區？",
    "ko": "어느 구에 사세요?",
    "vi": "Bạn sống ở quận nào?",
    "pt": "Em qual distrito você mora?",
    "es": "¿En qué distrito vive?",
    "th": "คุณอาศัยอยู่เขตไหน",
    "tl": "Saang distrito ka nakatira?",
}

DISTRICT_NAMES = {
    "ja": {"kita": "北区", "minami": "南区", "higashi": "東区", "nishi": "西区", "chuo": "中央区"},
    "ja-easy": {"kita": "きたく", "minami": "みなみく", "higashi": "ひがしく", "nishi": "にしく", "chuo": "ちゅうおうく"},
    "zh-Hans": {"kita": "北区", "minami": "南区", "higashi": "东区", "nishi": "西区", "chuo": "中央区"},
    "zh-Hant": {"kita": "北區", "minami": "南區", "higashi": "東區", "nishi": "西區", "chuo": "中央區"},
    "ko": {"kita": "기타구", "minami": "미나미구", "higashi": "히가시구", "nishi": "니시구", "chuo": "주오구"},
    "th": {"kita": "เขตคิตะ", "minami": "เขตมินามิ", "higashi": "เขตฮิงาชิ", "nishi": "เขตนิชิ", "chuo": "เขตชูโอ"},
    "en": {"kita": "Kita", "minami": "Minami", "higashi": "Higashi", "nishi": "Nishi", "chuo": "Chuo"},
}

GARBAGE_CATEGORIES = {
    "ja": {"burnable": "燃やせるごみ", "plastic": "プラスチック", "recyclables": "資源物"},
    "ja-easy": {"burnable": "もやせる ごみ", "plastic": "プラスチック", "recyclables": "しげんぶつ"},
    "en": {"burnable": "Burnable", "plastic": "Plastic packaging", "recyclables": "Recyclables"},
    "zh-Hans": {"burnable": "可燃垃圾", "plastic": "塑料容器包装", "recyclables": "资源垃圾"},
    "zh-Hant": {"burnable": "可燃垃圾", "plastic": "塑膠容器包裝", "recyclables": "資源垃圾"},
    "ko": {"burnable": "타는 쓰레기", "plastic": "플라스틱", "recyclables": "자원물"},
    "vi": {"burnable": "Rác cháy được", "plastic": "Rác nhựa", "recyclables": "Rác tái chế"},
    "pt": {"burnable": "Lixo queimável", "plastic": "Plástico", "recyclables": "Recicláveis"},
    "es": {"burnable": "Basura quemable", "plastic": "Plástico", "recyclables": "Reciclables"},
    "th": {"burnable": "ขยะเผาได้", "plastic": "พลาสติก", "recyclables": "ขยะรีไซเคิล"},
    "tl": {"burnable": "Nasusunog", "plastic": "Plastic", "recyclables": "Recyclables"},
}

WEEKDAYS = {  # Monday first
    "ja": ("月曜", "火曜", "水曜", "木曜", "金曜", "土曜", "日曜"),
    "ja-easy": ("げつようび", "かようび", "すいようび", "もくようび", "きんようび", "どようび", "にちようび"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "zh-Hans": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "zh-Hant": ("週一", "週二", "週三", "週四", "週五", "週六", "週日"),
    "ko": ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"),
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "pt": ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "th": ("วันจันทร์", "วันอังคาร", "วันพุธ", "วันพฤหัสบดี", "วันศุกร์", "วันเสาร์", "วันอาทิตย์"),
    "tl": ("Lunes", "Martes", "Miyerkoles", "Huwebes", "Biyernes", "Sabado", "Linggo"),
}

GARBAGE_HEADER = {
    "ja": "{district}のごみ収集日（朝8時30分までに出してください）",
    "ja-easy": "{district} の ごみの ひ（あさ 8じ30ぷん までに だします）",
    "en": "Garbage days in {district} (put it out by 8:30 a.m.)",
    "zh-Hans": "{district}的垃圾收集日（请在早上8:30前扔出）",
    "zh-Hant": "{district}的垃圾收集日（請在早上8:30前丟出）",
    "ko": "{district} 쓰레기 수거일 (아침 8시 30분까지 내놓아 주세요)",
    "vi": "Lịch thu gom rác ở {district} (để rác ra trước 8:30 sáng)",
    "pt": "Dias de coleta em {district} (coloque o lixo até as 8h30)",
    "es": "Días de recogida en {district} (saque la basura antes de las 8:30)",
    "th": "วันเก็บขยะ {district} (นำออกภายใน 8:30 น.)",
    "tl": "Araw ng basura sa {district} (ilabas bago mag-8:30 ng umaga)",
}

ASK_CHILD_AGE = {
    "ja": "お子さんは何歳ですか？（入所する時点の年齢）",
    "ja-easy": "こどもは なんさい ですか？",
    "en": "How old is your child?",
    "zh-Hans": "孩子几岁了？",
    "zh-Hant": "孩子幾歲了？",
    "ko": "아이가 몇 살인가요?",
    "vi": "Con bạn bao nhiêu tuổi?",
    "pt": "Quantos anos tem a criança?",
    "es": "¿Qué edad tiene su hijo o hija?",
    "th": "ลูกอายุเท่าไร",
    "tl": "Ilang taon na ang anak mo?",
}

AGE_BUTTON = {
    "ja": "{n}歳", "ja-easy": "{n}さい", "en": "{n} yrs", "zh-Hans": "{n}岁", "zh-Hant": "{n}歲",
    "ko": "{n}살", "vi": "{n} tuổi", "pt": "{n} anos", "es": "{n} años", "th": "{n} ปี", "tl": "{n} taon",
}

ASK_START_MONTH = {
    "ja": "何月からの入所を希望しますか？",
    "ja-easy": "なんがつ から ほいくえんに いきたい ですか？",
    "en": "From which month would you like your child to start?",
    "zh-Hans": "希望从几月开始入园？",
    "zh-Hant": "希望從幾月開始入園？",
    "ko": "몇 월부터 입소를 희망하세요?",
    "vi": "Bạn muốn cho con bắt đầu đi từ tháng mấy?",
    "pt": "A partir de que mês a criança deve começar?",
    "es": "¿A partir de qué mes quiere que empiece?",
    "th": "อยากให้เริ่มเข้าเดือนไหน",
    "tl": "Anong buwan mo gustong magsimula ang anak mo?",
}

MONTH_BUTTON = {
    "ja": "{n}月", "ja-easy": "{n}がつ", "en": "{name}", "zh-Hans": "{n}月", "zh-Hant": "{n}月",
    "ko": "{n}월", "vi": "tháng {n}", "pt": "mês {n}", "es": "mes {n}", "th": "เดือน {n}", "tl": "buwan {n}",
}

NURSERY_DEADLINE = {
    "ja": "{month}月に入所を希望する場合、申込締切は{deadline}です。",
    "ja-easy": "{month}がつ から なら、{deadline} までに もうしこんで ください。",
    "en": "To start in {month_name}, apply by {deadline}.",
    "zh-Hans": "希望{month}月入园的，申请截止日期为{deadline}。",
    "zh-Hant": "希望{month}月入園者，申請截止日期為{deadline}。",
    "ko": "{month}월 입소를 희망하면 신청 마감은 {deadline}입니다.",
    "vi": "Để bắt đầu vào tháng {month}, hãy nộp đơn trước {deadline}.",
    "pt": "Para começar no mês {month}, inscreva-se até {deadline}.",
    "es": "Para empezar en el mes {month}, presente la solicitud antes del {deadline}.",
    "th": "หากต้องการเข้าเดือน {month} ต้องสมัครภายใน {deadline}",
    "tl": "Para magsimula sa buwan {month}, mag-apply bago ang {deadline}.",
}

DATE = {
    "ja": "{m}月{d}日", "ja-easy": "{m}がつ{d}にち", "en": "{month_name} {d}", "zh-Hans": "{m}月{d}日",
    "zh-Hant": "{m}月{d}日", "ko": "{m}월 {d}일", "vi": "ngày {d}/{m}", "pt": "{d}/{m}",
    "es": "{d}/{m}", "th": "{d}/{m}", "tl": "{d}/{m}",
}

NURSERY_TOO_OLD = {
    "ja": "保育所は小学校入学前（0〜5歳）のお子さんが対象です。小学生には放課後児童クラブがあります。",
    "ja-easy": "ほいくえんは 0さい〜5さいの こどもが いく ところ です。しょうがくせいは「ほうかご じどう クラブ」が あります。",
    "en": "Nursery schools take children under school age (0–5). For schoolchildren there is the after-school club.",
    "zh-Hans": "保育所面向学龄前（0～5岁）儿童。小学生可利用放学后儿童俱乐部。",
    "zh-Hant": "保育所以學齡前（0～5歲）兒童為對象。小學生可利用課後兒童俱樂部。",
    "ko": "보육소는 취학 전(0~5세) 아동이 대상입니다. 초등학생은 방과후 아동클럽을 이용할 수 있습니다.",
    "vi": "Nhà trẻ dành cho trẻ chưa đến tuổi đi học (0–5 tuổi). Học sinh tiểu học có câu lạc bộ sau giờ học.",
    "pt": "As creches atendem crianças em idade pré-escolar (0 a 5 anos). Para alunos do primário há o clube pós-escola.",
    "es": "Las guarderías son para niños en edad preescolar (0 a 5 años). Para escolares existe el club extraescolar.",
    "th": "สถานรับเลี้ยงเด็กรับเด็กก่อนวัยเรียน (0–5 ปี) สำหรับนักเรียนประถมมีชมรมหลังเลิกเรียน",
    "tl": "Ang nursery ay para sa mga batang hindi pa nag-aaral (0–5 taon). Para sa mga mag-aaral, may after-school club.",
}

ASK_MOVED_FROM = {
    "ja": "移住する前は、どこに住んでいましたか（または通勤していましたか）？",
    "ja-easy": "まえは どこに すんで いましたか？",
    "en": "Where did you live (or commute to) before moving here?",
    "zh-Hans": "移居前您住在（或通勤到）哪里？",
    "zh-Hant": "移居前您住在（或通勤到）哪裡？",
    "ko": "이주하기 전에는 어디에 살았나요(또는 통근했나요)?",
    "vi": "Trước khi chuyển đến, bạn sống (hoặc đi làm) ở đâu?",
    "pt": "Onde você morava (ou trabalhava) antes da mudança?",
    "es": "¿Dónde vivía (o trabajaba) antes de mudarse?",
    "th": "ก่อนย้ายมา คุณอาศัยอยู่ (หรือเดินทางไปทำงาน) ที่ไหน",
    "tl": "Saan ka nakatira (o nagtatrabaho) bago lumipat dito?",
}

MOVED_FROM_OPTIONS = {
    "ja": {"tokyo23": "東京23区", "tokyo_other": "東京都（23区以外）", "elsewhere": "その他の地域"},
    "ja-easy": {"tokyo23": "とうきょう 23く", "tokyo_other": "とうきょう（23く いがい）", "elsewhere": "ほかの ところ"},
    "en": {"tokyo23": "Tokyo's 23 wards", "tokyo_other": "Elsewhere in Tokyo", "elsewhere": "Somewhere else"},
    "zh-Hans": {"tokyo23": "东京23区", "tokyo_other": "东京都（23区以外）", "elsewhere": "其他地区"},
    "zh-Hant": {"tokyo23": "東京23區", "tokyo_other": "東京都（23區以外）", "elsewhere": "其他地區"},
    "ko": {"tokyo23": "도쿄 23구", "tokyo_other": "도쿄도(23구 외)", "elsewhere": "기타 지역"},
    "vi": {"tokyo23": "23 quận Tokyo", "tokyo_other": "Nơi khác ở Tokyo", "elsewhere": "Nơi khác"},
    "pt": {"tokyo23": "23 distritos de Tóquio", "tokyo_other": "Outro lugar de Tóquio", "elsewhere": "Outro lugar"},
    "es": {"tokyo23": "23 distritos de Tokio", "tokyo_other": "Otra zona de Tokio", "elsewhere": "Otro lugar"},
    "th": {"tokyo23": "23 เขตโตเกียว", "tokyo_other": "ที่อื่นในโตเกียว", "elsewhere": "ที่อื่น"},
    "tl": {"tokyo23": "23 ward ng Tokyo", "tokyo_other": "Ibang bahagi ng Tokyo", "elsewhere": "Ibang lugar"},
}

ASK_MOVED_WHEN = {
    "ja": "霞野市に転入したのはいつですか？",
    "ja-easy": "いつ かすみのしに ひっこして きましたか？",
    "en": "When did you move to Kasumino?",
    "zh-Hans": "您是什么时候迁入霞野市的？",
    "zh-Hant": "您是什麼時候遷入霞野市的？",
    "ko": "가스미노시로 언제 전입하셨나요?",
    "vi": "Bạn chuyển đến Kasumino khi nào?",
    "pt": "Quando você se mudou para Kasumino?",
    "es": "¿Cuándo se mudó a Kasumino?",
    "th": "คุณย้ายเข้าคาสุมิโนะเมื่อไร",
    "tl": "Kailan ka lumipat sa Kasumino?",
}

MOVED_WHEN_OPTIONS = {
    "ja": {"not_yet": "これから転入", "within_year": "1年以内", "over_year": "1年以上前"},
    "ja-easy": {"not_yet": "これから", "within_year": "1ねん いない", "over_year": "1ねん より まえ"},
    "en": {"not_yet": "Not yet", "within_year": "Within the last year", "over_year": "More than a year ago"},
    "zh-Hans": {"not_yet": "还没迁入", "within_year": "一年内", "over_year": "一年多以前"},
    "zh-Hant": {"not_yet": "還沒遷入", "within_year": "一年內", "over_year": "一年多以前"},
    "ko": {"not_yet": "아직", "within_year": "1년 이내", "over_year": "1년 이상 전"},
    "vi": {"not_yet": "Chưa chuyển", "within_year": "Trong vòng 1 năm", "over_year": "Hơn 1 năm trước"},
    "pt": {"not_yet": "Ainda não", "within_year": "Menos de um ano", "over_year": "Mais de um ano"},
    "es": {"not_yet": "Todavía no", "within_year": "Menos de un año", "over_year": "Más de un año"},
    "th": {"not_yet": "ยังไม่ย้าย", "within_year": "ไม่ถึง 1 ปี", "over_year": "เกิน 1 ปี"},
    "tl": {"not_yet": "Hindi pa", "within_year": "Wala pang isang taon", "over_year": "Mahigit isang taon"},
}

ASK_WORK_STATUS = {
    "ja": "霞野市でのお仕事はどうされますか？",
    "ja-easy": "かすみのしで どんな しごとを しますか？",
    "en": "What about work in Kasumino?",
    "zh-Hans": "您在霞野市的工作情况如何？",
    "zh-Hant": "您在霞野市的工作情況如何？",
    "ko": "가스미노시에서 일은 어떻게 하시나요?",
    "vi": "Công việc của bạn ở Kasumino thế nào?",
    "pt": "E o trabalho em Kasumino?",
    "es": "¿Y el trabajo en Kasumino?",
    "th": "การทำงานในคาสุมิโนะเป็นอย่างไร",
    "tl": "Paano ang trabaho mo sa Kasumino?",
}

WORK_STATUS_OPTIONS = {
    "ja": {"employed": "就職する・している", "business": "起業する", "remote": "テレワークで今の仕事を続ける", "none": "働いていない"},
    "ja-easy": {"employed": "しごとを する", "business": "かいしゃを つくる", "remote": "いえで いまの しごと", "none": "はたらいて いない"},
    "en": {"employed": "Employed here", "business": "Starting a business", "remote": "Remote work, same job", "none": "Not working"},
    "zh-Hans": {"employed": "在本地就业", "business": "创业", "remote": "远程办公", "none": "不工作"},
    "zh-Hant": {"employed": "在本地就業", "business": "創業", "remote": "遠距工作", "none": "不工作"},
    "ko": {"employed": "취업", "business": "창업", "remote": "원격 근무", "none": "일하지 않음"},
    "vi": {"employed": "Đi làm tại đây", "business": "Khởi nghiệp", "remote": "Làm việc từ xa", "none": "Không làm việc"},
    "pt": {"employed": "Emprego aqui", "business": "Abrir negócio", "remote": "Trabalho remoto", "none": "Não trabalho"},
    "es": {"employed": "Empleo aquí", "business": "Emprender", "remote": "Teletrabajo", "none": "No trabajo"},
    "th": {"employed": "ทำงานที่นี่", "business": "เปิดธุรกิจ", "remote": "ทำงานทางไกล", "none": "ไม่ได้ทำงาน"},
    "tl": {"employed": "May trabaho dito", "business": "Magnenegosyo", "remote": "Remote work", "none": "Walang trabaho"},
}

RELOCATION_ELIGIBLE = {
    "ja": "条件に当てはまる可能性があります。東京23区に住んでいた（通勤していた）方が転入後1年以内に申請し、就業・起業などの条件を満たすと、単身100万円、2人以上の世帯200万円の移住支援金を受け取れます。最終的な審査は移住定住推進課が行います。",
    "ja-easy": "もらえる かもしれません。とうきょう 23く から きて、ひっこして 1ねん いないに もうしこむと、ひとり 100まんえん、かぞく 200まんえん です。",
    "en": "You may well be eligible. People who lived in (or commuted to) Tokyo's 23 wards, apply within one year of moving in and meet conditions such as employment or starting a business receive 1,000,000 yen (single) or 2,000,000 yen (household of two or more). The Relocation and Settlement Promotion Division makes the final decision.",
    "zh-Hans": "您可能符合条件。曾居住（或通勤）于东京23区、迁入后1年内申请并满足就业或创业等条件者，可领取单身100万日元、2人以上家庭200万日元的移居支援金。最终由移居定居推进科审核。",
    "zh-Hant": "您可能符合條件。曾居住（或通勤）於東京23區、遷入後1年內申請並符合就業或創業等條件者，可領取單身100萬日圓、2人以上家庭200萬日圓的移居支援金。最終由移居定居推進科審核。",
    "ko": "대상이 될 가능성이 있습니다. 도쿄 23구에 거주(또는 통근)했던 분이 전입 후 1년 이내에 신청하고 취업・창업 등의 조건을 충족하면 1인 100만 엔, 2인 이상 세대 200만 엔을 받습니다. 최종 심사는 이주정주추진과에서 합니다.",
    "vi": "Bạn có thể đủ điều kiện. Người từng sống (hoặc đi làm) ở 23 quận Tokyo, nộp đơn trong vòng 1 năm sau khi chuyển đến và đáp ứng điều kiện như có việc làm hoặc khởi nghiệp sẽ nhận 1.000.000 yên (độc thân) hoặc 2.000.000 yên (hộ từ 2 người). Phòng Xúc tiến Di cư và Định cư quyết định cuối cùng.",
    "pt": "Você provavelmente tem direito. Quem morava (ou trabalhava) nos 23 distritos de Tóquio, pede em até 1 ano após a mudança e cumpre condições como emprego ou abertura de negócio recebe 1.000.000 de ienes (sozinho) ou 2.000.000 de ienes (família de 2+). A decisão final é da Divisão de Incentivo à Mudança.",
    "es": "Es probable que cumpla los requisitos. Quien vivía (o trabajaba) en los 23 distritos de Tokio, lo solicita dentro del año siguiente a la mudanza y cumple condiciones como tener empleo o emprender recibe 1.000.000 de yenes (una persona) o 2.000.000 (hogar de 2 o más). La decisión final es de la División de Promoción de la Reubicación.",
    "th": "คุณน่าจะมีสิทธิ์ ผู้ที่เคยอาศัย (หรือทำงาน) ใน 23 เขตโตเกียว ยื่นภายใน 1 ปีหลังย้ายเข้า และมีงานทำหรือเปิดธุรกิจ จะได้รับ 1,000,000 เยน (คนเดียว) หรือ 2,000,000 เยน (ครัวเรือน 2 คนขึ้นไป) ฝ่ายส่งเสริมการย้ายถิ่นฐานเป็นผู้พิจารณาขั้นสุดท้าย",
    "tl": "Malamang kwalipikado ka. Ang dating nakatira (o nagtatrabaho) sa 23 ward ng Tokyo, nag-apply sa loob ng 1 taon pagkalipat, at may trabaho o magnenegosyo ay makakatanggap ng 1,000,000 yen (single) o 2,000,000 yen (household na 2+). Ang Dibisyon ng Paglipat ang magpapasya.",
}

RELOCATION_NOT = {
    "tokyo23": {
        "ja": "対象外の可能性が高いです。移住支援金は、移住前に東京23区に住んでいた（または通勤していた）方が対象です。",
        "ja-easy": "もらえない かも しれません。とうきょう 23く に すんで いた（はたらいて いた）ひとが もらえます。",
        "en": "You are probably not eligible: the grant is for people who lived in, or commuted to, Tokyo's 23 wards before moving.",
        "zh-Hans": "您可能不符合条件：移居支援金面向移居前居住（或通勤）于东京23区的人。",
        "zh-Hant": "您可能不符合條件：移居支援金以移居前居住（或通勤）於東京23區者為對象。",
        "ko": "대상이 아닐 가능성이 높습니다. 이주 전에 도쿄 23구에 거주(또는 통근)했던 분이 대상입니다.",
        "vi": "Có lẽ bạn không đủ điều kiện: khoản hỗ trợ dành cho người từng sống hoặc đi làm ở 23 quận Tokyo trước khi chuyển đến.",
        "pt": "Provavelmente você não tem direito: o auxílio é para quem morava ou trabalhava nos 23 distritos de Tóquio antes da mudança.",
        "es": "Probablemente no cumple los requisitos: la ayuda es para quien vivía o trabajaba en los 23 distritos de Tokio antes de mudarse.",
        "th": "คุณน่าจะไม่มีสิทธิ์ เงินนี้สำหรับผู้ที่เคยอาศัยหรือทำงานใน 23 เขตโตเกียวก่อนย้ายมา",
        "tl": "Malamang hindi ka kwalipikado: para ito sa dating nakatira o nagtatrabaho sa 23 ward ng Tokyo bago lumipat.",
    },
    "within_year": {
        "ja": "対象外の可能性が高いです。申請は転入してから1年以内に行う必要があります。",
        "ja-easy": "もらえない かも しれません。ひっこして から 1ねん いないに もうしこむ きまり です。",
        "en": "You are probably not eligible: the application must be made within one year of moving in.",
        "zh-Hans": "您可能不符合条件：须在迁入后1年内申请。",
        "zh-Hant": "您可能不符合條件：須於遷入後1年內申請。",
        "ko": "대상이 아닐 가능성이 높습니다. 전입 후 1년 이내에 신청해야 합니다.",
        "vi": "Có lẽ bạn không đủ điều kiện: phải nộp đơn trong vòng 1 năm sau khi chuyển đến.",
        "pt": "Provavelmente você não tem direito: o pedido deve ser feito em até 1 ano após a mudança.",
        "es": "Probablemente no cumple los requisitos: hay que solicitarla dentro del año siguiente a la mudanza.",
        "th": "คุณน่าจะไม่มีสิทธิ์ ต้องยื่นภายใน 1 ปีหลังย้ายเข้า",
        "tl": "Malamang hindi ka kwalipikado: kailangang mag-apply sa loob ng 1 taon pagkalipat.",
    },
    "work": {
        "ja": "対象外の可能性が高いです。移住支援金には、市内での就業や起業などの条件があります。",
        "ja-easy": "もらえない かも しれません。かすみのしで はたらく、かいしゃを つくる などの きまりが あります。",
        "en": "You are probably not eligible: the grant requires employment, starting a business or similar in the city.",
        "zh-Hans": "您可能不符合条件：移居支援金要求在本市就业或创业等。",
        "zh-Hant": "您可能不符合條件：移居支援金要求在本市就業或創業等。",
        "ko": "대상이 아닐 가능성이 높습니다. 시내 취업이나 창업 등의 조건이 있습니다.",
        "vi": "Có lẽ bạn không đủ điều kiện: cần có việc làm, khởi nghiệp hoặc tương tự trong thành phố.",
        "pt": "Provavelmente você não tem direito: é preciso ter emprego, abrir um negócio ou similar na cidade.",
        "es": "Probablemente no cumple los requisitos: se exige empleo, emprender o similar en la ciudad.",
        "th": "คุณน่าจะไม่มีสิทธิ์ ต้องมีงานทำหรือเปิดธุรกิจในเมือง",
        "tl": "Malamang hindi ka kwalipikado: kailangan ng trabaho, negosyo o katulad sa lungsod.",
    },
}

FEEDBACK_PROMPT = {
    "ja": "この回答は役に立ちましたか？", "ja-easy": "やくに たちましたか？",
    "en": "Was this helpful?", "zh-Hans": "这个回答有帮助吗？", "zh-Hant": "這個回答有幫助嗎？",
    "ko": "도움이 되었나요?", "vi": "Câu trả lời có hữu ích không?", "pt": "Isso ajudou?",
    "es": "¿Le ha sido útil?", "th": "คำตอบนี้มีประโยชน์ไหม", "tl": "Nakatulong ba ito?",
}

FEEDBACK_THANKS = {
    "ja": "ご意見ありがとうございます。回答の改善に使わせていただきます。",
    "ja-easy": "ありがとう ございます。こたえを よく する ために つかいます。",
    "en": "Thank you for the feedback; we use it to improve the answers.",
    "zh-Hans": "感谢您的反馈，我们会用来改进回答。",
    "zh-Hant": "感謝您的回饋，我們會用來改進回答。",
    "ko": "의견 감사합니다. 답변 개선에 활용하겠습니다.",
    "vi": "Cảm ơn góp ý của bạn; chúng tôi dùng nó để cải thiện câu trả lời.",
    "pt": "Obrigado pelo retorno; ele nos ajuda a melhorar as respostas.",
    "es": "Gracias por su opinión; nos ayuda a mejorar las respuestas.",
    "th": "ขอบคุณสำหรับความคิดเห็น เราจะนำไปปรับปรุงคำตอบ",
    "tl": "Salamat sa feedback; gagamitin namin ito para pagbutihin ang mga sagot.",
}

CHOOSE_LANGUAGE = {
    "ja": "言語を選んでください。", "ja-easy": "ことばを えらんで ください。",
    "en": "Please choose a language.", "zh-Hans": "请选择语言。", "zh-Hant": "請選擇語言。",
    "ko": "언어를 선택해 주세요.", "vi": "Vui lòng chọn ngôn ngữ.", "pt": "Escolha um idioma.",
    "es": "Elija un idioma.", "th": "กรุณาเลือกภาษา", "tl": "Pumili ng wika.",
}

LANGUAGE_SET = {
    "ja": "これから日本語でお答えします。", "ja-easy": "これから やさしい にほんごで こたえます。",
    "en": "I'll answer in English from now on.", "zh-Hans": "接下来我将用简体中文回答。",
    "zh-Hant": "接下來我將用繁體中文回答。", "ko": "이제부터 한국어로 답변드리겠습니다.",
    "vi": "Từ giờ tôi sẽ trả lời bằng tiếng Việt.", "pt": "A partir de agora respondo em português.",
    "es": "A partir de ahora respondo en español.", "th": "ต่อจากนี้จะตอบเป็นภาษาไทยค่ะ",
    "tl": "Sasagot na ako sa Tagalog mula ngayon.",
}

LANGUAGE_NAMES = {
    "ja": "日本語", "ja-easy": "やさしい日本語", "en": "English", "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文", "ko": "한국어", "vi": "Tiếng Việt", "pt": "Português",
    "es": "Español", "th": "ไทย", "tl": "Tagalog",
}

NO_WORDS = {
    "ja": "ご質問を文字で入力してください（例：「ごみの日はいつ？」）。",
    "ja-easy": "しつもんを もじで かいて ください。",
    "en": "Please type your question in words (e.g. \"When is garbage day?\").",
    "zh-Hans": "请用文字输入您的问题（例如：“垃圾哪天收？”）。",
    "zh-Hant": "請用文字輸入您的問題（例如：「垃圾哪天收？」）。",
    "ko": "질문을 글로 입력해 주세요(예: \"쓰레기 버리는 날은?\").",
    "vi": "Vui lòng nhập câu hỏi bằng chữ (ví dụ: \"Ngày đổ rác là khi nào?\").",
    "pt": "Escreva sua pergunta com palavras (ex.: \"Qual é o dia do lixo?\").",
    "es": "Escriba su pregunta con palabras (p. ej.: \"¿Qué día es la basura?\").",
    "th": "กรุณาพิมพ์คำถามเป็นข้อความ (เช่น \"ทิ้งขยะวันไหน\")",
    "tl": "Paki-type ang tanong sa mga salita (hal. \"Kailan ang araw ng basura?\").",
}

ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December")
